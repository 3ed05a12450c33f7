// Browser-test harness: starts the Tandem binary (explicit flags, port 0 or a
// given port so a restart keeps the address) serving the built frontend, a
// throw-away redis-server when asked, launches the system Chromium through
// playwright-core (no browser download), and signs users in through the UI's
// demo login. Every wait is for a condition, with a timeout.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FRONTEND = path.resolve(HERE, '../..');
export const REPO = path.resolve(FRONTEND, '..');
export const DIST = path.join(FRONTEND, 'dist');
// Screenshots go to a temporary folder, so a test run leaves the checkout
// as it was; TANDEM_SCREENSHOTS=docs/screenshots refreshes the README's.
export const SCREENSHOTS = process.env.TANDEM_SCREENSHOTS
  ? path.resolve(REPO, process.env.TANDEM_SCREENSHOTS)
  : path.join(tmpdir(), 'tandem-screenshots');
export const BIN = process.env.TANDEM_BIN ? path.resolve(process.env.TANDEM_BIN) : path.join(REPO, 'target', 'debug', 'tandem');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Generous: a loaded 2-core machine builds and tests at the same time. */
export const WAIT = 15_000;

/** A random HS256 secret (≥ 32 bytes). */
export function newSecret() {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
}

/**
 * Starts the server. `args` are extra flags (e.g. `['--dev']`,
 * `['--jwt-hs256-secret', s]`, `['--engine', 'redis', ...]`); `port` 0 picks
 * a free one. The handle can `restart(args)` on the same port.
 */
export async function startServer({ args = ['--dev'], port = 0 } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`Tandem server binary not found at ${BIN}: run \`cargo build\` in the repository root first (or set TANDEM_BIN).`);
  }
  if (!existsSync(path.join(DIST, 'index.html'))) {
    throw new Error(`No built frontend in ${DIST}: run \`npm run build\` in frontend/ first.`);
  }
  let child;
  let url;
  const launch = async (flags, p) => {
    child = spawn(BIN, [...flags, '--listen', `127.0.0.1:${p}`, '--frontend-dir', DIST], {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (process.env.TANDEM_TRACE) process.stderr.write(d);
    });
    const me = child;
    url = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start in 30s\nstderr: ${stderr}`)), 30_000);
      me.stdout.on('data', (d) => {
        out += d;
        const m = /tandem listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      me.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening\nstderr: ${stderr}`));
      });
    });
  };
  const stop = async () => {
    const me = child;
    if (!me || me.exitCode !== null || me.signalCode !== null) return;
    me.kill('SIGTERM');
    await new Promise((resolve) => {
      const t = setTimeout(() => {
        me.kill('SIGKILL');
      }, 8000);
      me.on('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  };
  await launch(args, port);
  const handle = {
    get url() {
      return url;
    },
    get port() {
      return Number(new URL(url).port);
    },
    stop,
    /** Stops the server (its connections see it go), then starts it on the same port with `flags`. */
    async restart(flags = args, { downFor } = {}) {
      const p = handle.port;
      await stop();
      if (downFor) await downFor();
      // The port may linger for a moment after the old process exits.
      await until(async () => {
        try {
          await launch(flags, p);
          return true;
        } catch (err) {
          if (/Address already in use|address in use|os error 98/i.test(String(err))) return false;
          throw err;
        }
      }, `the server to listen again on port ${p}`, 20_000);
    },
  };
  return handle;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A throw-away redis-server (no persistence) in a temp dir; `stop()` kills it and removes the dir. */
export async function startRedis() {
  const which = spawnSync('sh', ['-c', 'command -v redis-server']);
  if (which.status !== 0) throw new Error('redis-server is not installed: apt-get install -y redis-server (scripts/test.sh does it).');
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 15_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.on('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A new browser context (its own storage) with one page, not signed in. The
 * page's console errors are collected in `errors`.
 */
export async function newPage(browser, baseURL, viewport = { width: 1000, height: 720 }) {
  const context = await browser.newContext({ baseURL, viewport, deviceScaleFactor: 1, acceptDownloads: true });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => {
    errors.push(`pageerror: ${err.message}`);
    console.error(`[page error] ${err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  return { context, page, errors };
}

/** Signs in through the demo login and waits for the live connection. */
export async function signIn(page, user) {
  await page.goto('/');
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await connected(page);
}

export async function connected(page, timeout = WAIT) {
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** A demo token for REST checks from the test itself. */
export async function token(baseURL, user) {
  const res = await fetch(`${baseURL}/api/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  return (await res.json()).token;
}

/** A token minted by the binary itself (`tandem token`) with `secret`. */
export function mintToken(secret, user) {
  const r = spawnSync(BIN, ['token', '--user', user, '--ttl', '1h'], {
    env: { ...process.env, TANDEM_JWT_HS256_SECRET: secret, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tandem token failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A REST call with `bearer`; throws on HTTP errors. */
export async function restAs(baseURL, bearer, method, p, body) {
  const res = await fetch(`${baseURL}${p}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A REST call as `user` through the demo login (dev mode); throws on HTTP errors. */
export async function rest(baseURL, user, method, p, body) {
  return restAs(baseURL, await token(baseURL, user), method, p, body);
}

/** Chat texts shown (delivered messages only, not pending ones). */
export function messageTexts(page) {
  return page.locator('[data-testid=messages] li.msg:not(.pending) .content').allTextContents();
}

/** Opens one of the session's tabs (Mission, Activity, Assets, Sharing; Chat on a phone). */
export async function tab(page, name) {
  await page.getByRole('tab', { name, exact: true }).click();
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, what, timeout = WAIT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Holds that `fn` stays true for a while (e.g. "no duplicate arrives"):
 * checks several times over `ms`, failing at the first false.
 */
export async function stays(fn, what, ms = 700) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await fn())) throw new Error(`expected ${what} to hold`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
