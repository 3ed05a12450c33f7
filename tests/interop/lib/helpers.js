// Shared helpers for the Tandem interop suite: start/stop the server binary,
// mint tokens, create centrifuge-js clients, wait for events with timeouts,
// and a small TCP proxy that can simulate a network drop.
//
// Environment:
//   TANDEM_BIN            path to the server binary (default <repo>/target/debug/tandem)
//   TANDEM_INTEROP_TRACE  set to 1 to print every WebSocket frame sent/received by the clients
//                         and the server's stderr as it arrives

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Centrifuge } from 'centrifuge';
import { Centrifuge as CentrifugeProtobuf } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // tests/interop/lib
const INTEROP_DIR = path.resolve(HERE, '..'); // tests/interop
export const TANDEM_BIN = process.env.TANDEM_BIN
  ? path.resolve(process.env.TANDEM_BIN)
  : path.resolve(INTEROP_DIR, '../../target/debug/tandem');

const TRACE = ['1', 'true', 'yes'].includes(String(process.env.TANDEM_INTEROP_TRACE ?? '').toLowerCase());

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LISTEN_RE = /tandem listening on http:\/\/127\.0\.0\.1:(\d+)/;

function trace(line) {
  if (TRACE) process.stderr.write(`[trace ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
}

export function uid() {
  return randomUUID();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Throws a loud, actionable error if the server binary is missing. */
export function assertBinary() {
  if (!existsSync(TANDEM_BIN) || !statSync(TANDEM_BIN).isFile()) {
    throw new Error(
      `Tandem server binary not found at ${TANDEM_BIN}.\n` +
        `Run \`cargo build\` in the repository root first (or set TANDEM_BIN to the binary path).`,
    );
  }
}

export function randomSecret() {
  return randomBytes(24).toString('hex'); // 48 chars
}

/** Mint an HS256 connection token with the server binary's `token` subcommand. */
export function mintToken(secret, user, ttl = '1h') {
  assertBinary();
  let out;
  try {
    out = execFileSync(TANDEM_BIN, ['--jwt-hs256-secret', secret, 'token', '--user', user, '--ttl', ttl], {
      encoding: 'utf8',
      env: { ...process.env, RUST_LOG: 'warn' },
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new Error(`\`tandem token --user ${user}\` failed: ${err.message}\nstderr: ${err.stderr ?? ''}`);
  }
  const token = out.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    throw new Error(`\`tandem token --user ${user}\` did not print a JWT on stdout; got: ${JSON.stringify(out)}`);
  }
  return token;
}

/**
 * Start the server on an ephemeral port. Resolves to
 * { port, url, wsUrl, secret, proc, stderr(), stop() }.
 */
export async function startServer({ secret = randomSecret(), extraArgs = [] } = {}) {
  assertBinary();
  const args = ['--listen', '127.0.0.1:0', '--jwt-hs256-secret', secret, '--ping-interval', '5s', ...extraArgs];
  const proc = spawn(TANDEM_BIN, args, {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdoutBuf = '';
  let stderrBuf = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderrBuf += chunk;
    if (stderrBuf.length > 200_000) stderrBuf = stderrBuf.slice(-100_000);
    trace(`server stderr: ${chunk.trimEnd()}`);
  });

  const port = await new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      proc.off('exit', onExit);
      proc.off('error', onError);
      fn(v);
    };
    const onData = (chunk) => {
      stdoutBuf += chunk;
      const m = LISTEN_RE.exec(stdoutBuf);
      if (m) finish(resolve, Number(m[1]));
    };
    const onExit = (code, signal) =>
      finish(
        reject,
        new Error(
          `tandem exited before listening (code ${code}, signal ${signal}).\n` +
            `args: ${args.join(' ')}\nstdout: ${stdoutBuf}\nstderr: ${stderrBuf}`,
        ),
      );
    const onError = (err) => finish(reject, new Error(`failed to spawn ${TANDEM_BIN}: ${err.message}`));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      finish(
        reject,
        new Error(
          `tandem did not print "tandem listening on http://127.0.0.1:PORT" on stdout within ${STARTUP_TIMEOUT_MS} ms.\n` +
            `stdout: ${stdoutBuf}\nstderr: ${stderrBuf}`,
        ),
      );
    }, STARTUP_TIMEOUT_MS);
    proc.stdout.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', onError);
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  proc.stdout.on('data', (chunk) => {
    stdoutBuf += chunk;
    if (stdoutBuf.length > 200_000) stdoutBuf = stdoutBuf.slice(-100_000);
  });

  async function stop() {
    if (exited) return exited;
    proc.kill('SIGTERM');
    let timer;
    const result = await Promise.race([
      exitPromise,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (result) return result;
    process.stderr.write(`tandem did not exit within ${STOP_GRACE_MS} ms of SIGTERM; sending SIGKILL\n`);
    proc.kill('SIGKILL');
    return exitPromise;
  }

  return {
    port,
    secret,
    proc,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    stderr: () => stderrBuf,
    exited: () => exited,
    stop,
  };
}

/**
 * Wait for `event` on `emitter` (anything with on/off) for which `predicate(ctx)` is true.
 * Rejects after `ms` with a message naming the event and the last non-matching payloads.
 * Register the wait BEFORE triggering the action that causes the event.
 */
export function waitFor(emitter, event, ms = 5000, predicate = () => true, label = '') {
  return new Promise((resolve, reject) => {
    const seen = [];
    const onEvent = (ctx) => {
      let ok;
      try {
        ok = predicate(ctx);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (ok) {
        cleanup();
        resolve(ctx);
      } else {
        seen.push(ctx);
        if (seen.length > 5) seen.shift();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      const seenText = seen.length ? `; non-matching '${event}' events seen: ${safeJson(seen)}` : '';
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'${label ? ` (${label})` : ''}${seenText}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}

/** Poll `fn` until it returns truthy; reject after `ms` with `describe()` in the message. */
export async function waitUntil(fn, ms, describe) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (fn()) return;
    if (Date.now() > deadline) {
      const what = typeof describe === 'function' ? describe() : describe;
      throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    }
    await sleep(20);
  }
}

export function safeJson(v, max = 4000) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

/** A `ws` WebSocket subclass that records (and optionally traces) every frame for one client. */
function recordingWebSocket(label, frames) {
  // Text frames are recorded as they are, binary (Protobuf) frames as `bin <hex>`.
  const push = (dir, data, binary = typeof data !== 'string') => {
    const text = typeof data === 'string' ? data : binary ? `bin ${Buffer.from(data).toString('hex')}` : Buffer.from(data).toString('utf8');
    frames.push(`${dir} ${text}`);
    if (frames.length > 400) frames.shift();
    trace(`${label} ${dir} ${text}`);
  };
  return class RecordingWebSocket extends WebSocket {
    constructor(address, protocols, options) {
      // Like a browser, deliver one message per event-loop task. With `ws`'s
      // default (several 'message' events in one tick when frames arrive
      // together), centrifuge-js 5.7 can start dispatching a later frame
      // before it has finished the subscribe reply of an earlier one, and
      // emit a live publication before the recovered ones (an SDK race).
      super(address, protocols, { ...(options || {}), allowSynchronousEvents: false });
      const args = [address];
      push('**', `open ${args[0]}`);
      this.on('message', (data, isBinary) => push('<-', data, isBinary));
      this.on('close', (code, reason) => push('**', `close code=${code} reason=${JSON.stringify(String(reason))}`));
      this.on('error', (err) => push('**', `error ${err.message}`));
    }
    send(data, ...rest) {
      push('->', data);
      return super.send(data, ...rest);
    }
  };
}

/**
 * Small TCP proxy in front of the server. `dropAll()` destroys every proxied
 * connection (a network drop) while the proxy keeps listening; `block()` makes it
 * reset new connections immediately until `unblock()`.
 */
export class TcpProxy {
  constructor(targetPort, targetHost = '127.0.0.1') {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.pairs = new Set();
    this.blocked = false;
    this.accepted = 0;
    this.rejected = 0;
    this.server = net.createServer((client) => this._onConnection(client));
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  _onConnection(client) {
    client.on('error', () => {});
    if (this.blocked) {
      this.rejected++;
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    upstream.on('error', () => {});
    const pair = { client, upstream };
    this.pairs.add(pair);
    const teardown = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  get activeConnections() {
    return this.pairs.size;
  }

  /** Destroy all current proxied connections. Returns how many were dropped. */
  dropAll() {
    const n = this.pairs.size;
    for (const { client, upstream } of [...this.pairs]) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    return n;
  }

  block() {
    this.blocked = true;
  }

  unblock() {
    this.blocked = false;
  }

  close() {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Per-file harness: one server, a set of clients and proxies that are all
 * cleaned up by `close()`.
 */
export class Harness {
  static async start(opts) {
    const h = new Harness();
    h.server = await startServer(opts);
    return h;
  }

  constructor() {
    this.clients = [];
    this.proxies = [];
    this.frames = new Map(); // label -> recorded frames
    this.tokens = new Map();
  }

  get secret() {
    return this.server.secret;
  }

  token(user) {
    if (!this.tokens.has(user)) this.tokens.set(user, mintToken(this.server.secret, user));
    return this.tokens.get(user);
  }

  async proxy() {
    const p = new TcpProxy(this.server.port);
    await p.listen();
    this.proxies.push(p);
    return p;
  }

  /**
   * Create (but do not connect) a centrifuge-js client.
   * opts: { user, token, label, port (e.g. a proxy port), protobuf (use the SDK's
   * Protobuf build, `centrifuge/build/protobuf`), ...Centrifuge options }
   */
  client({ user, token, label, port, protobuf = false, ...options } = {}) {
    const tok = token ?? (user ? this.token(user) : '');
    const name = label ?? `${user ?? 'anon'}#${this.clients.length + 1}`;
    const frames = [];
    this.frames.set(name, frames);
    const url = `ws://127.0.0.1:${port ?? this.server.port}/connection/websocket`;
    const Client = protobuf ? CentrifugeProtobuf : Centrifuge;
    const c = new Client(url, {
      websocket: recordingWebSocket(name, frames),
      token: tok,
      minReconnectDelay: 100,
      maxReconnectDelay: 500,
      ...options,
    });
    // Never let an 'error' event without listeners crash the process.
    c.on('error', (ctx) => trace(`${name} client error event: ${safeJson(ctx)}`));
    c.label = name;
    c.protobuf = protobuf;
    this.clients.push(c);
    return c;
  }

  /** Create and connect a client, resolving once it is connected. */
  async connected(opts) {
    const c = this.client(opts);
    const p = waitFor(c, 'connected', 5000, () => true, `${c.label} connect`);
    c.connect();
    await p;
    return c;
  }

  /** Recorded frames of a client, as text, for assertion messages. */
  framesOf(clientOrLabel) {
    const label = typeof clientOrLabel === 'string' ? clientOrLabel : clientOrLabel.label;
    return (this.frames.get(label) ?? []).join('\n');
  }

  async close() {
    for (const c of this.clients) {
      try {
        c.disconnect();
      } catch {
        // ignore
      }
    }
    await Promise.all(this.proxies.map((p) => p.close()));
    if (this.server) {
      const res = await this.server.stop();
      const stderr = this.server.stderr().trim();
      // The server logs at warn level; only show its stderr when something looks wrong.
      const abnormal = !res || res.code !== 0 || /panicked|\bERROR\b/.test(stderr);
      if (stderr && !TRACE && abnormal) {
        process.stderr.write(`--- tandem stderr (exit ${safeJson(res)}) ---\n${stderr.slice(-4000)}\n`);
      }
    }
  }
}

/** Subscribe and wait for the first `subscribed` event. */
export async function subscribe(client, channel, opts = {}, ms = 5000) {
  const sub = client.newSubscription(channel, opts);
  sub.on('error', (ctx) => trace(`${client.label} sub ${channel} error event: ${safeJson(ctx)}`));
  const p = waitFor(sub, 'subscribed', ms, () => true, `${client.label} subscribe ${channel}`);
  sub.subscribe();
  const ctx = await p;
  return { sub, ctx };
}

/** Collect every payload of `event` into an array (returned). */
export function collect(emitter, event) {
  const out = [];
  emitter.on(event, (ctx) => out.push(ctx));
  return out;
}

/**
 * Create a session owned by `client`'s user, shared with `collaborators`
 * ([{ user_id, role }]); resolves to the session (with `id` and `channel`).
 */
export async function createSession(client, name, collaborators = []) {
  const data = await rpc(client, 'session.create', { name, collaborators });
  if (!data?.id) throw new Error(`session.create should return the session: ${safeJson(data)}`);
  return { ...data, channel: `session:${data.id}` };
}

/** Send a chat message through RPC; resolves to the stored message. */
export async function chat(client, sessionId, content) {
  return rpc(client, 'chat.send', { session_id: sessionId, content });
}

/**
 * Calls an RPC method with JSON `data` and resolves to its JSON result. On the
 * Protobuf build, payloads are bytes: the app encodes its JSON as UTF-8 and
 * decodes the result (Tandem's RPC data is JSON bytes).
 */
export async function rpc(client, method, data) {
  const res = await client.rpc(method, client.protobuf ? encodeJson(data) : data);
  return decodeJson(res?.data);
}

/** JSON as the bytes a Protobuf client sends. */
export function encodeJson(value) {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** A payload as JSON: bytes (Protobuf build) are parsed, anything else is already JSON. */
export function decodeJson(value) {
  return value instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(value)) : value;
}

/** A stream offset as a number (the Protobuf build gives uint64 fields as `Long`). */
export function num(value) {
  return value !== null && typeof value === 'object' && typeof value.toNumber === 'function' ? value.toNumber() : Number(value);
}

/** The chat content of a publication whose data is a `chat.message` event. */
export function contentOf(publication) {
  return decodeJson(publication?.data)?.data?.message?.content;
}

/** POST a chat message through the REST API as `token`'s user; resolves to the stored message. */
export async function restChat(server, token, sessionId, content) {
  const res = await fetch(`${server.url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`POST messages answered ${res.status}: ${safeJson(body)}`);
  return body;
}
