// 2. Lossless reconnect: a network drop while publications keep flowing must be
// fully recovered from history on reconnect (recovered: true, no gaps, no duplicates).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, chat, collect, contentOf, createSession, sleep, subscribe, waitFor, waitUntil } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

// Chat message n carries content `${n}` and lands at offset n + 1
// (session.created is at offset 1).
const numberOf = (p) => Number(contentOf(p));

function summary(pubs) {
  return JSON.stringify(pubs.map((p) => [contentOf(p), p.offset]));
}

test('alice recovers every publication missed during a network drop', { timeout: 60_000 }, async () => {
  const proxy = await h.proxy();
  const alice = await h.connected({ user: 'alice', port: proxy.port, label: 'alice(proxied)' });
  const bob = await h.connected({ user: 'bob' });
  const session = await createSession(bob, 'recovery', [{ user_id: 'alice', role: 'viewer' }]);
  const channel = session.channel;
  const frames = () => `\n--- alice frames ---\n${h.framesOf(alice)}`;

  const subscribedEvents = [];
  const { sub, ctx: first } = await subscribe(alice, channel);
  subscribedEvents.push(first);
  sub.on('subscribed', (ctx) => subscribedEvents.push(ctx));
  assert.equal(first.recoverable, true);
  assert.equal(first.positioned, true);

  const pubs = collect(sub, 'publication');
  const publish = async (from, to) => {
    for (let n = from; n <= to; n++) await chat(bob, session.id, `${n}`);
  };

  // Phase 1: live delivery of 1..5.
  await publish(1, 5);
  await waitUntil(() => pubs.length >= 5, 5000, () => `alice received 1..5 (got ${summary(pubs)})${frames()}`);
  assert.deepEqual(pubs.map(numberOf), [1, 2, 3, 4, 5]);

  // Phase 2: network drop. Keep the proxy listening but reset new connections
  // until bob has published 6..25, so alice is guaranteed to miss them live.
  const subscribing = waitFor(sub, 'subscribing', 5000, () => true, 'alice subscription goes to subscribing after the drop');
  const connecting = waitFor(alice, 'connecting', 5000, () => true, 'alice client goes to connecting after the drop');
  proxy.block();
  const dropped = proxy.dropAll();
  assert.equal(dropped, 1, 'exactly one proxied connection (alice) should have been dropped');
  await Promise.all([subscribing, connecting]);
  assert.equal(alice.state, 'connecting');
  assert.equal(sub.state, 'subscribing');

  await publish(6, 25);
  // Let alice fail at least one reconnect attempt against the blocked proxy.
  await waitUntil(() => proxy.rejected >= 1, 5000, 'alice attempted to reconnect while the network was down');
  assert.equal(pubs.length, 5, `alice must not receive anything while disconnected: ${summary(pubs)}`);

  // Phase 3: the network comes back; alice reconnects and recovers by itself.
  const resubscribed = waitFor(sub, 'subscribed', 10_000, (ctx) => ctx.wasRecovering === true, 'alice resubscribes with recovery');
  proxy.unblock();
  const ctx = await resubscribed.catch((err) => {
    throw new Error(`${err.message}${frames()}`);
  });
  assert.equal(ctx.wasRecovering, true, `wasRecovering: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.recovered, true, `recovered must be true: ${JSON.stringify(ctx)}${frames()}`);
  assert.equal(ctx.hasRecoveredPublications, true, `the reply should carry the missed publications: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.streamPosition?.epoch, first.streamPosition.epoch, 'epoch must not change across a reconnect');

  await waitUntil(() => pubs.length >= 25, 5000, () => `alice has 25 publications (got ${summary(pubs)})${frames()}`);
  await sleep(300); // catch late duplicates
  const expected = Array.from({ length: 25 }, (_, i) => i + 1);
  assert.deepEqual(pubs.map(numberOf), expected, `exactly 1..25 in order, each once${frames()}`);
  assert.deepEqual(pubs.map((p) => p.offset), expected.map((n) => n + 1), `offsets 2..26 in order${frames()}`);

  // Phase 4: live delivery continues after recovery.
  await publish(26, 26);
  await waitUntil(() => pubs.length >= 26, 5000, () => `alice received 26 live (got ${summary(pubs)})${frames()}`);
  await sleep(200);
  assert.deepEqual(pubs.map(numberOf), [...expected, 26]);
  assert.equal(pubs[25].offset, 27);
  assert.equal(subscribedEvents.length, 2, `one initial and one recovering subscribed event: ${JSON.stringify(subscribedEvents)}`);
});

test('repeated drops while bob publishes continuously lose and duplicate nothing', { timeout: 60_000 }, async () => {
  const proxy = await h.proxy();
  const alice = await h.connected({ user: 'alice', port: proxy.port, label: 'alice(proxied, churn)' });
  const bob = await h.connected({ user: 'bob', label: 'bob(churn)' });
  const session = await createSession(bob, 'churn', [{ user_id: 'alice', role: 'viewer' }]);
  const channel = session.channel;
  const frames = () => `\n--- alice frames ---\n${h.framesOf(alice)}`;

  const { sub } = await subscribe(alice, channel);
  const resubscribes = collect(sub, 'subscribed');
  const pubs = collect(sub, 'publication');

  const total = 120;
  const dropAt = new Set([20, 50, 51, 90]);
  let drops = 0;
  for (let n = 1; n <= total; n++) {
    if (dropAt.has(n)) drops += proxy.dropAll();
    await chat(bob, session.id, `${n}`);
    // Stay well below the server's default per-connection command rate limit.
    await sleep(15);
  }
  assert.ok(drops >= 3, `expected at least 3 dropped connections, got ${drops}`);

  await waitUntil(
    () => pubs.length >= total && sub.state === 'subscribed',
    10_000,
    () => `alice has ${total} publications (got ${pubs.length}, state ${sub.state})${frames()}`,
  );
  await sleep(300);
  const expected = Array.from({ length: total }, (_, i) => i + 1);
  assert.deepEqual(pubs.map(numberOf), expected, `1..${total} exactly once, in order${frames()}`);
  assert.deepEqual(pubs.map((p) => p.offset), expected.map((n) => n + 1), `offsets 2..${total + 1}${frames()}`);
  assert.ok(resubscribes.length >= 3, `alice resubscribed after each drop: ${JSON.stringify(resubscribes)}`);
  for (const ctx of resubscribes) {
    assert.equal(ctx.wasRecovering, true, JSON.stringify(ctx));
    assert.equal(ctx.recovered, true, `every resubscribe must recover: ${JSON.stringify(ctx)}${frames()}`);
  }
});
