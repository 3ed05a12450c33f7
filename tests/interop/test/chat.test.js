// 8. Domain operations over the protocol: chat.send through rpc reaches the
// other subscribers as a chat.message event; client publish is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, createSession, safeJson, subscribe, waitFor } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('rpc chat.send from A reaches subscriber B as a chat.message event', { timeout: 30_000 }, async () => {
  const a = await h.connected({ user: 'alice' });
  const b = await h.connected({ user: 'bob' });
  const session = await createSession(a, 'interop chat', [{ user_id: 'bob', role: 'viewer' }]);
  const { sub } = await subscribe(b, session.channel);

  const received = waitFor(sub, 'publication', 5000, (ctx) => ctx.data?.type === 'chat.message', 'bob receives the chat.message event');
  const res = await a.rpc('chat.send', { session_id: session.id, content: 'hello from centrifuge-js' });
  const message = res.data;
  assert.equal(message.content, 'hello from centrifuge-js', safeJson(res));
  assert.equal(message.author, 'alice');

  const pub = await received.catch((err) => {
    throw new Error(`${err.message}\n--- bob frames ---\n${h.framesOf(b)}`);
  });
  assert.equal(pub.channel, session.channel);
  assert.equal(pub.data.type, 'chat.message');
  assert.equal(pub.data.actor, 'alice');
  assert.equal(pub.data.data.message.content, 'hello from centrifuge-js');
  assert.equal(pub.data.data.message.id, message.id);
  assert.equal(pub.offset, message.offset, 'the publication is at the message\'s offset');
  assert.equal(pub.offset, 2, 'right after session.created');
});

test('client publish to a session channel is refused with 103; strangers cannot subscribe', { timeout: 30_000 }, async () => {
  const a = await h.connected({ user: 'alice' });
  const mallory = await h.connected({ user: 'mallory' });
  const session = await createSession(a, 'no publish');
  await subscribe(a, session.channel);
  await assert.rejects(a.publish(session.channel, { text: 'direct' }), (err) => {
    assert.equal(err.code, 103, `expected permission denied (103), got ${safeJson(err)}`);
    return true;
  });
  assert.equal(a.state, 'connected', 'a publish error must not disconnect the client');

  const sub = mallory.newSubscription(session.channel);
  sub.on('error', () => {});
  const unsubscribed = waitFor(sub, 'unsubscribed', 5000, () => true, 'mallory\'s subscription is rejected');
  sub.subscribe();
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 103, `expected permission denied (103), got ${safeJson(ctx)}`);
  mallory.removeSubscription(sub);
});
