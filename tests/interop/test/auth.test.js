// 6. Invalid tokens are rejected with close code 3500 and the client does not reconnect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, mintToken, randomSecret, safeJson, sleep, waitFor } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

async function expectTerminal3500(token, label) {
  const c = h.client({ token, label });
  const connecting = [];
  const connected = [];
  c.on('connecting', (ctx) => connecting.push(ctx));
  c.on('connected', (ctx) => connected.push(ctx));
  const disconnected = waitFor(c, 'disconnected', 5000, () => true, `${label} is disconnected`);
  c.connect();
  const ctx = await disconnected.catch((err) => {
    throw new Error(`${err.message}\n--- frames ---\n${h.framesOf(c)}`);
  });
  assert.equal(ctx.code, 3500, `expected disconnect code 3500 (invalid token), got ${safeJson(ctx)}\n${h.framesOf(c)}`);
  const before = connecting.length;
  // Longer than maxReconnectDelay (500 ms): a reconnecting client would have tried again.
  await sleep(1500);
  assert.equal(c.state, 'disconnected', 'client stays disconnected');
  assert.equal(connecting.length, before, `no reconnect attempt after 3500: ${safeJson(connecting)}`);
  assert.equal(connected.length, 0, 'never connected');
  const opens = h.framesOf(c).split('\n').filter((l) => l.startsWith('** open'));
  assert.equal(opens.length, 1, `exactly one WebSocket was opened:\n${h.framesOf(c)}`);
}

test('a garbage token ends disconnected with 3500 and no reconnect', { timeout: 30_000 }, async () => {
  await expectTerminal3500('this-is-not-a-jwt', 'garbage-token');
});

test('a token signed with another secret ends disconnected with 3500', { timeout: 30_000 }, async () => {
  const foreign = mintToken(randomSecret(), 'alice');
  await expectTerminal3500(foreign, 'wrong-secret-token');
});
