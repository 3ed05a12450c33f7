// 3. Presence, presence stats and join/leave pushes on a session channel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, createSession, subscribe, waitFor } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('join, presence, presence stats and leave', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  const bob = await h.connected({ user: 'bob' });
  const { channel } = await createSession(alice, 'presence', [{ user_id: 'bob', role: 'viewer' }]);

  // joinLeave: true asks for join/leave pushes; a server that forces them on
  // session channels delivers them either way.
  const { sub: aliceSub } = await subscribe(alice, channel, { joinLeave: true });

  const joined = waitFor(aliceSub, 'join', 5000, (ctx) => ctx.info?.user === 'bob', 'alice sees bob join');
  const { sub: bobSub } = await subscribe(bob, channel, { joinLeave: true });
  const join = await joined.catch((err) => {
    throw new Error(`${err.message}\n--- alice frames ---\n${h.framesOf(alice)}`);
  });
  assert.equal(join.channel, channel);
  assert.equal(join.info.user, 'bob');
  assert.equal(typeof join.info.client, 'string');
  assert.ok(join.info.client.length > 0, 'join info carries the client id');

  const presence = await aliceSub.presence();
  const clients = Object.values(presence.clients);
  assert.equal(clients.length, 2, `presence should list 2 clients: ${JSON.stringify(presence)}`);
  assert.deepEqual(clients.map((c) => c.user).sort(), ['alice', 'bob']);
  for (const [key, c] of Object.entries(presence.clients)) {
    assert.equal(key, c.client, 'presence map is keyed by client id');
  }
  const bobInfo = clients.find((c) => c.user === 'bob');
  assert.equal(bobInfo.client, join.info.client, 'join and presence agree on bob\'s client id');

  const stats = await aliceSub.presenceStats();
  assert.equal(stats.numUsers, 2, `presence stats: ${JSON.stringify(stats)}`);
  assert.equal(stats.numClients, 2, `presence stats: ${JSON.stringify(stats)}`);

  const left = waitFor(aliceSub, 'leave', 5000, (ctx) => ctx.info?.user === 'bob', 'alice sees bob leave');
  const bobUnsubscribed = waitFor(bobSub, 'unsubscribed', 5000, () => true, 'bob unsubscribed');
  bobSub.unsubscribe();
  await bobUnsubscribed;
  const leave = await left;
  assert.equal(leave.channel, channel);
  assert.equal(leave.info.client, join.info.client);

  const after = await aliceSub.presenceStats();
  assert.equal(after.numUsers, 1, `presence stats after leave: ${JSON.stringify(after)}`);
  assert.equal(after.numClients, 1, `presence stats after leave: ${JSON.stringify(after)}`);
});
