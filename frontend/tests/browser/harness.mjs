// Browser-test harness: starts the Tandem binary on port 0 serving the built
// frontend, launches the system Chromium through playwright-core (no browser
// download), and signs users in through the UI's demo login.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FRONTEND = path.resolve(HERE, '../..');
export const REPO = path.resolve(FRONTEND, '..');
export const DIST = path.join(FRONTEND, 'dist');
export const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
const BIN = process.env.TANDEM_BIN ? path.resolve(process.env.TANDEM_BIN) : path.join(REPO, 'target', 'debug', 'tandem');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function startServer() {
  if (!existsSync(BIN)) {
    throw new Error(`Tandem server binary not found at ${BIN}: run \`cargo build\` in the repository root first (or set TANDEM_BIN).`);
  }
  if (!existsSync(path.join(DIST, 'index.html'))) {
    throw new Error(`No built frontend in ${DIST}: run \`npm run build\` in frontend/ first.`);
  }
  const child = spawn(BIN, ['--dev', '--listen', '127.0.0.1:0', '--frontend-dir', DIST], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.TANDEM_TRACE) process.stderr.write(d);
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 20s\nstderr: ${stderr}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /tandem listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\nstderr: ${stderr}`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 5000);
        child.on('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
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

/** A new browser context (its own storage) with one page, not signed in. */
export async function newPage(browser, baseURL, viewport = { width: 1000, height: 720 }) {
  const context = await browser.newContext({ baseURL, viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  return { context, page };
}

/** Signs in through the demo login and waits for the live connection. */
export async function signIn(page, user) {
  await page.goto('/');
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await connected(page);
}

export async function connected(page) {
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 15_000 });
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

export async function rest(baseURL, user, method, p, body) {
  const res = await fetch(`${baseURL}${p}`, {
    method,
    headers: { authorization: `Bearer ${await token(baseURL, user)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Chat texts shown (delivered messages only, not pending ones). */
export function messageTexts(page) {
  return page.locator('[data-testid=messages] li.msg:not(.pending) .content').allTextContents();
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, what, timeout = 10_000) {
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
