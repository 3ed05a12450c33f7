// The official SDK's Protobuf build (`centrifuge/build/protobuf`, the same
// npm version as the JSON suite) against Tandem: binary frames end to end,
// RPC, subscribe and receive, lossless recovery after a dropped socket,
// token refresh, a JSON client, a Protobuf client and the REST API writing
// to one session in one order, and the reject-unrecovered flag (error 112)
// driving the SDK's getState reload path, on both builds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Harness,
  chat,
  collect,
  contentOf,
  createSession,
  decodeJson,
  mintToken,
  num,
  restChat,
  rpc,
  sleep,
  subscribe,
  waitFor,
  waitUntil,
} from '../lib/helpers.js';

let h;
before(async () => {
  // A short expiry grace, so a connection whose token is not refreshed is
  // closed within the refresh test.
  h = await Harness.start({ extraArgs: ['--expiry-grace', '1s'] });
});
after(async () => {
  await h?.close();
});

const summary = (pubs) => JSON.stringify(pubs.map((p) => [contentOf(p), num(p.offset)]));

test('a Protobuf client connects with a JWT, calls RPC, subscribes and receives, all in binary frames', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice', protobuf: true, label: 'alice(pb)' });
  const session = await createSession(alice, 'protobuf', [{ user_id: 'bob', role: 'editor' }]);
  assert.match(session.id, /^[0-9a-f-]{36}$/);
  const { sub, ctx } = await subscribe(alice, session.channel);
  assert.equal(ctx.recoverable, true);
  assert.equal(ctx.positioned, true);
  assert.equal(num(ctx.streamPosition.offset), 1, 'session.created is at offset 1');
  const pubs = collect(sub, 'publication');
  const bob = await h.connected({ user: 'bob', protobuf: true, label: 'bob(pb)' });
  for (const n of [1, 2, 3]) await chat(bob, session.id, `${n}`);
  await waitUntil(() => pubs.length >= 3, 5000, () => `alice got 3 publications: ${summary(pubs)}`);
  assert.deepEqual(pubs.map(contentOf), ['1', '2', '3']);
  assert.deepEqual(pubs.map((p) => num(p.offset)), [2, 3, 4]);
  assert.ok(pubs[0].data instanceof Uint8Array, 'payloads are bytes on the Protobuf build');
  assert.equal(decodeJson(pubs[0].data).actor, 'bob');
  const frames = h.framesOf(alice).split('\n').filter((l) => l.startsWith('<-') || l.startsWith('->'));
  assert.ok(frames.length > 4, h.framesOf(alice));
  for (const line of frames) assert.match(line, /^(<-|->) bin [0-9a-f]+$/, `every frame is binary: ${line}`);
});

test('a Protobuf client recovers everything missed during a network drop, exactly once and in order', { timeout: 60_000 }, async () => {
  const proxy = await h.proxy();
  const alice = await h.connected({ user: 'alice', protobuf: true, port: proxy.port, label: 'alice(pb, proxied)' });
  const bob = await h.connected({ user: 'bob' });
  const session = await createSession(bob, 'pb recovery', [{ user_id: 'alice', role: 'viewer' }]);
  const { sub, ctx: first } = await subscribe(alice, session.channel);
  const pubs = collect(sub, 'publication');
  for (let n = 1; n <= 3; n++) await chat(bob, session.id, `${n}`);
  await waitUntil(() => pubs.length >= 3, 5000, () => `alice got 1..3: ${summary(pubs)}`);

  const connecting = waitFor(alice, 'connecting', 5000, () => true, 'alice goes to connecting after the drop');
  proxy.block();
  assert.equal(proxy.dropAll(), 1);
  await connecting;
  for (let n = 4; n <= 15; n++) await chat(bob, session.id, `${n}`);
  await waitUntil(() => proxy.rejected >= 1, 5000, 'alice tried to reconnect while the network was down');
  assert.equal(pubs.length, 3, `nothing arrives while offline: ${summary(pubs)}`);

  const resubscribed = waitFor(sub, 'subscribed', 10_000, (c) => c.wasRecovering === true, 'alice resubscribes with recovery');
  proxy.unblock();
  const ctx = await resubscribed;
  assert.equal(ctx.recovered, true, JSON.stringify(ctx));
  assert.equal(ctx.streamPosition.epoch, first.streamPosition.epoch);
  await waitUntil(() => pubs.length >= 15, 5000, () => `alice has 1..15: ${summary(pubs)}`);
  await chat(bob, session.id, '16');
  await waitUntil(() => pubs.length >= 16, 5000, () => `alice got 16 live: ${summary(pubs)}`);
  await sleep(200);
  const expected = Array.from({ length: 16 }, (_, i) => i + 1);
  assert.deepEqual(pubs.map((p) => Number(contentOf(p))), expected, `exactly 1..16 once, in order: ${summary(pubs)}`);
  assert.deepEqual(pubs.map((p) => num(p.offset)), expected.map((n) => n + 1));
});

test('a Protobuf client refreshes its token before the connection expires', { timeout: 30_000 }, async () => {
  let fetched = 0;
  const alice = h.client({
    protobuf: true,
    label: 'alice(pb, refresh)',
    token: mintToken(h.secret, 'alice', '2s'),
    getToken: async () => {
      fetched++;
      return mintToken(h.secret, 'alice', '1h');
    },
  });
  const connected = waitFor(alice, 'connected', 5000, () => true, 'alice connects');
  alice.connect();
  await connected;
  const reconnects = collect(alice, 'connecting');
  // Without a refresh the server closes the connection 2 s + 1 s grace after connect.
  await sleep(5000);
  assert.ok(fetched >= 1, 'the SDK asked for a new token when the first one ran out');
  assert.equal(alice.state, 'connected');
  assert.deepEqual(reconnects, [], `no reconnect: the refresh extended the connection\n${h.framesOf(alice)}`);
  const info = await rpc(alice, 'server.info', {});
  assert.ok(info.version, JSON.stringify(info));
});

test('JSON, Protobuf and REST writers: every client sees the same events in the same order', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice', label: 'alice(json)' });
  const bob = await h.connected({ user: 'bob', protobuf: true, label: 'bob(pb)' });
  const session = await createSession(alice, 'mixed', [
    { user_id: 'bob', role: 'editor' },
    { user_id: 'carol', role: 'editor' },
  ]);
  const { sub: jsonSub } = await subscribe(alice, session.channel);
  const { sub: pbSub } = await subscribe(bob, session.channel);
  const seenJson = collect(jsonSub, 'publication');
  const seenPb = collect(pbSub, 'publication');
  const carol = h.token('carol');
  const writes = [];
  for (let round = 0; round < 3; round++) {
    await chat(alice, session.id, `json ${round}`);
    await chat(bob, session.id, `protobuf ${round}`);
    await restChat(h.server, carol, session.id, `rest ${round}`);
    writes.push(`json ${round}`, `protobuf ${round}`, `rest ${round}`);
  }
  await waitUntil(() => seenJson.length >= 9 && seenPb.length >= 9, 5000, () => `json ${summary(seenJson)} pb ${summary(seenPb)}`);
  await sleep(200);
  assert.deepEqual(seenJson.map(contentOf), writes);
  assert.deepEqual(seenPb.map(contentOf), writes);
  assert.deepEqual(seenPb.map((p) => num(p.offset)), seenJson.map((p) => num(p.offset)));
  assert.deepEqual(seenPb.map((p) => decodeJson(p.data)), seenJson.map((p) => p.data), 'the same event payloads');
  assert.deepEqual(seenPb.map((p) => decodeJson(p.data).actor), ['alice', 'bob', 'carol', 'alice', 'bob', 'carol', 'alice', 'bob', 'carol']);
});

for (const protobuf of [true, false]) {
  const variant = protobuf ? 'Protobuf' : 'JSON';
  test(`${variant}: an unrecoverable position with getState is refused with 112 and the SDK reloads its state`, { timeout: 30_000 }, async () => {
    const bob = await h.connected({ user: 'bob' });
    const session = await createSession(bob, `getState ${variant}`, [{ user_id: 'alice', role: 'viewer' }]);
    for (const n of [1, 2]) await chat(bob, session.id, `${n}`);
    const alice = await h.connected({ user: 'alice', protobuf, label: `alice(${variant}, getState)` });
    const loads = [];
    const sub = alice.newSubscription(session.channel, {
      // First a position from a stream incarnation that is gone, then the
      // real top read through history (as an app reloading its state would).
      getState: async () => {
        loads.push(Date.now());
        if (loads.length === 1) return { offset: 1, epoch: 'an-epoch-that-is-gone' };
        const top = await alice.history(session.channel, { limit: 0 });
        return { offset: top.offset, epoch: top.epoch };
      },
    });
    const errors = collect(sub, 'error');
    const pubs = collect(sub, 'publication');
    const subscribed = waitFor(sub, 'subscribed', 10_000, () => true, 'alice subscribes after reloading');
    sub.subscribe();
    const ctx = await subscribed;
    assert.equal(loads.length, 2, 'getState ran again after the 112');
    assert.equal(ctx.wasRecovering, true);
    assert.equal(ctx.recovered, true, JSON.stringify(ctx));
    assert.equal(num(ctx.streamPosition.offset), 3);
    assert.deepEqual(errors, [], 'the 112 is handled by the SDK, not surfaced');
    if (!protobuf) {
      assert.match(h.framesOf(alice), /"code":112/, 'the server answered 112');
      assert.match(h.framesOf(alice), /"flag":3/, 'the SDK set the reject-unrecovered bit');
    }
    await chat(bob, session.id, '3');
    await waitUntil(() => pubs.length >= 1, 5000, () => `alice got 3 live: ${summary(pubs)}`);
    assert.equal(contentOf(pubs[0]), '3');
    assert.equal(num(pubs[0].offset), 4);
  });
}
