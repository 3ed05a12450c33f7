// 1. connect + subscribe + receive publications in order, with offsets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, collect, subscribe, uid, waitUntil } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('alice subscribes to a session channel and receives bob\'s 3 publications in order', { timeout: 30_000 }, async () => {
  const channel = `session:${uid()}`;
  const alice = await h.connected({ user: 'alice' });
  const bob = await h.connected({ user: 'bob' });

  const { sub, ctx } = await subscribe(alice, channel);
  assert.equal(ctx.channel, channel);
  assert.equal(ctx.recoverable, true, `subscribed ctx should be recoverable: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.positioned, true, `subscribed ctx should be positioned: ${JSON.stringify(ctx)}`);
  assert.equal(ctx.wasRecovering, false);
  assert.ok(ctx.streamPosition, 'subscribed ctx should carry a stream position');
  assert.equal(typeof ctx.streamPosition.epoch, 'string');
  assert.ok(ctx.streamPosition.epoch.length > 0, 'epoch should be a non-empty string');
  assert.equal(ctx.streamPosition.offset, 0, 'a fresh channel starts at offset 0');

  const pubs = collect(sub, 'publication');
  for (let n = 1; n <= 3; n++) {
    await bob.publish(channel, { n, text: `message ${n}` });
  }
  await waitUntil(() => pubs.length >= 3, 5000, () => `alice received 3 publications (got ${pubs.length})\n${h.framesOf(alice)}`);

  assert.deepEqual(
    pubs.map((p) => p.data),
    [1, 2, 3].map((n) => ({ n, text: `message ${n}` })),
  );
  const offsets = pubs.map((p) => p.offset);
  for (const o of offsets) assert.equal(typeof o, 'number', `every publication must carry an offset: ${offsets}`);
  assert.deepEqual(offsets, [1, 2, 3], 'offsets of a fresh stream rise by exactly 1 from 1');
  for (const p of pubs) {
    assert.equal(p.channel, channel);
    assert.ok(p.info, 'client publications carry the publisher\'s ClientInfo');
    assert.equal(p.info.user, 'bob');
    assert.equal(typeof p.info.client, 'string');
  }
  assert.equal(pubs.length, 3, 'no extra publications');
});
