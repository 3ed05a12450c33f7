// 5. RPC: server.info and an unknown method (104).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Harness, safeJson } from '../lib/helpers.js';

let h;
before(async () => {
  h = await Harness.start();
});
after(async () => {
  await h?.close();
});

test('rpc server.info returns version, engine and node', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  const res = await alice.rpc('server.info', {});
  assert.ok(res && res.data, `rpc result should have data: ${safeJson(res)}`);
  assert.equal(typeof res.data.version, 'string', `version: ${safeJson(res.data)}`);
  assert.ok(res.data.version.length > 0, 'version is non-empty');
  assert.ok('engine' in res.data, `engine: ${safeJson(res.data)}`);
  assert.ok('node' in res.data, `node: ${safeJson(res.data)}`);
});

test('rpc with an unknown method rejects with 104', { timeout: 30_000 }, async () => {
  const alice = await h.connected({ user: 'alice' });
  await assert.rejects(alice.rpc('no.such.method', {}), (err) => {
    assert.equal(err.code, 104, `expected method not found (104), got ${safeJson(err)}`);
    return true;
  });
  assert.equal(alice.state, 'connected', 'an rpc error must not disconnect the client');
  // The connection is still usable.
  const res = await alice.rpc('server.info', {});
  assert.equal(typeof res.data.version, 'string');
});
