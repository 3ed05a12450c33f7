// 4. user:<id> channels are private to that user (code 103 for others).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, safeJson, subscribe, waitFor } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('alice cannot subscribe to user:bob (103)', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  const sub = alice.newSubscription('user:bob');
  const subscribed = [];
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.on('error', () => {});
  const unsubscribed = waitFor(sub, 'unsubscribed', 5000, () => true, 'subscription to user:bob is rejected');
  sub.subscribe();
  const ctx = await unsubscribed.catch((err) => {
    throw new Error(`${err.message}\n--- alice frames ---\n${h.framesOf(alice)}`);
  });
  assert.equal(ctx.code, 103, `expected permission denied (103), got ${safeJson(ctx)}`);
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(subscribed.length, 0, 'must never be subscribed');
  assert.equal(alice.state, 'connected', 'a subscribe error must not disconnect the client');
  alice.removeSubscription(sub);
});

test('alice can subscribe to user:alice', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  const { sub, ctx } = await subscribe(alice, 'user:alice');
  assert.equal(ctx.channel, 'user:alice');
  assert.equal(sub.state, 'subscribed');
});
