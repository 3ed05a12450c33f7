// Server pings ({} every --ping-interval 5s) are answered by the client ({} pong),
// so an idle connection stays up well past several ping intervals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, collect, createSession, safeJson, sleep, subscribe } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('an idle client stays connected across server pings', { timeout: 40_000 }, async () => {
  const alice = await h.connected({ user: 'alice', label: 'alice(idle)' });
  const { channel } = await createSession(alice, 'keepalive');
  const { sub } = await subscribe(alice, channel);
  const reconnects = collect(alice, 'connecting');
  const disconnects = collect(alice, 'disconnected');
  const resubscribes = collect(sub, 'subscribing');

  await sleep(12_000); // more than two 5 s ping intervals

  const frames = h.framesOf(alice);
  assert.equal(alice.state, 'connected', `still connected\n${frames}`);
  assert.equal(sub.state, 'subscribed');
  assert.deepEqual(reconnects, [], `no reconnects: ${safeJson(reconnects)}\n${frames}`);
  assert.deepEqual(disconnects, [], `no disconnects: ${safeJson(disconnects)}`);
  assert.deepEqual(resubscribes, []);
  const lines = frames.split('\n');
  const pings = lines.filter((l) => l === '<- {}').length;
  const pongs = lines.filter((l) => l === '-> {}').length;
  assert.ok(pings >= 2, `expected at least 2 server pings ({}) in 12 s, saw ${pings}\n${frames}`);
  // Allow for a ping that arrived in the same instant the window closed.
  assert.ok(pongs >= pings - 1 && pongs <= pings, `the client answers every ping with a pong ({}): ${pings} pings, ${pongs} pongs\n${frames}`);
  // The connection is still usable.
  const res = await alice.rpc('server.info', {});
  assert.equal(typeof res.data.version, 'string');
});
