// 1. connect + subscribe + receive publications in order, with offsets.
// Session channels carry the session's events: publications are made by
// domain operations (RPC `chat.send`), never by client `publish`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, chat, collect, contentOf, createSession, subscribe, waitUntil } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('alice subscribes to a session channel and receives bob\'s 3 chat messages in order', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  const bob = await h.connected({ user: 'bob' });
  const session = await createSession(alice, 'pubsub', [{ user_id: 'bob', role: 'editor' }]);
  const channel = session.channel;

  const { sub, ctx } = await subscribe(alice, channel);
  assert.equal(ctx.channel, channel);
  assert.equal(ctx.recoverable, true, `subscribed ctx should be recoverable: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.positioned, true, `subscribed ctx should be positioned: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.wasRecovering, false);
  assert.ok(ctx.streamPosition, 'subscribed ctx should carry a stream position');
  assert.equal(typeof ctx.streamPosition.epoch, 'string');
  assert.ok(ctx.streamPosition.epoch.length > 0, 'epoch should be a non-empty string');
  assert.equal(ctx.streamPosition.offset, 1, 'a new session\'s stream holds session.created at offset 1');

  const pubs = collect(sub, 'publication');
  for (let n = 1; n <= 3; n++) {
    await chat(bob, session.id, `message ${n}`);
  }
  await waitUntil(() => pubs.length >= 3, 5000, () => `alice received 3 publications (got ${pubs.length})\n${h.framesOf(alice)}`);

  assert.deepEqual(pubs.map((p) => p.data.type), ['chat.message', 'chat.message', 'chat.message']);
  assert.deepEqual(pubs.map(contentOf), [1, 2, 3].map((n) => `message ${n}`));
  const offsets = pubs.map((p) => p.offset);
  for (const o of offsets) assert.equal(typeof o, 'number', `every publication must carry an offset: ${offsets}`);
  assert.deepEqual(offsets, [2, 3, 4], 'offsets rise by exactly 1 after session.created');
  for (const p of pubs) {
    assert.equal(p.channel, channel);
    assert.equal(p.data.offset, p.offset, 'the event carries its own offset');
    assert.equal(p.data.actor, 'bob', 'events name their actor');
    assert.equal(p.data.data.message.author, 'bob');
  }
  assert.equal(pubs.length, 3, 'no extra publications');
});
