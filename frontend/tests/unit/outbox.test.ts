import { describe, expect, it } from 'vitest';
import { MemoryStorage, Outbox, type OutboxItem, type SendOutcome } from '../../src/state/outbox';
import { describeWrite, failed, humanError, type WriteOp } from '../../src/state/writes';
import { chatLines } from '../../src/state/messages';
import { message } from './fixtures';

let n = 0;
const chat = (content: string): WriteOp => ({ kind: 'chat', content });
const text = (i: OutboxItem) => (i.op.kind === 'chat' ? i.op.content : '');
const keys = () => `key-${++n}`;

describe('Outbox', () => {
  it('keeps messages pending until sent, then sends each once with a stable key', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const a = box.add('s1', chat('hello'));
    const b = box.add('s1', chat('world'));
    expect(box.pending('s1').map((i) => text(i))).toEqual(['hello', 'world']);

    // Offline: the first attempt does not reach the server; order is kept.
    const attempts: string[] = [];
    let online = false;
    const send = async (item: OutboxItem): Promise<SendOutcome<string>> => {
      attempts.push(item.key);
      return online ? { ok: true, result: text(item) } : { ok: false, retry: true };
    };
    expect(await box.flush(send)).toEqual([]);
    expect(attempts).toEqual([a.key]);
    expect(box.pending()).toHaveLength(2);

    online = true;
    expect(await box.flush(send)).toEqual(['hello', 'world']);
    // The retry of `hello` used the same idempotency key as the failed try.
    expect(attempts).toEqual([a.key, a.key, b.key]);
    expect(box.pending()).toEqual([]);
    expect(await box.flush(send)).toEqual([]);
    expect(attempts).toHaveLength(3);
  });

  it('never has a message in flight twice: concurrent flushes join', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    box.add('s1', chat('once'));
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const send = async (item: OutboxItem): Promise<SendOutcome<string>> => {
      calls++;
      await gate;
      return { ok: true, result: text(item) };
    };
    const p1 = box.flush(send);
    const p2 = box.flush(send);
    release();
    expect(await p1).toEqual(['once']);
    expect(await p2).toEqual(['once']);
    expect(calls).toBe(1);
  });

  it('survives a reload through its storage', async () => {
    const storage = new MemoryStorage();
    const before = new Outbox<string>(storage, 'tandem.outbox.bob', keys);
    const item = before.add('s1', chat('written offline'));
    const after = new Outbox<string>(storage, 'tandem.outbox.bob', keys);
    expect(after.pending()).toEqual([{ ...item, attempts: 0 }]);
    const sent: string[] = [];
    await after.flush(async (i) => (sent.push(i.key), { ok: true, result: text(i) }));
    expect(sent).toEqual([item.key]);
    expect(storage.getItem('tandem.outbox.bob')).toBeNull();
    expect(new Outbox<string>(storage, 'tandem.outbox.bob', keys).pending()).toEqual([]);
  });

  it('marks a refused message failed (not retried by itself) and sends the rest', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const bad = box.add('s1', chat('too big'));
    box.add('s1', chat('fine'));
    const sent = await box.flush(async (i) =>
      i.key === bad.key ? { ok: false, retry: false, error: 'too large' } : { ok: true, result: text(i) },
    );
    expect(sent).toEqual(['fine']);
    expect(box.pending()).toMatchObject([{ key: bad.key, error: 'too large' }]);
    box.retry(bad.key);
    expect(box.pending()[0].error).toBeUndefined();
    box.discard(bad.key);
    expect(box.pending()).toEqual([]);
  });

  it('shows pending messages until their echo arrives, never twice', () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const item = box.add('sid', chat('hi'));
    const echoed = { ...message(7, 'hi'), idempotency_key: item.key };
    expect(chatLines([], [], box.pending()).map((l) => l.kind)).toEqual(['pending']);
    // Delivered (the REST answer) but not yet in the stream: shown once, as a message.
    expect(chatLines([], [echoed], box.pending()).map((l) => l.kind)).toEqual(['message']);
    // In the stream too: still once.
    expect(chatLines([echoed], [echoed], [])).toHaveLength(1);
  });
});

describe('Outbox of every write', () => {
  it('keeps a conflicting write apart until the user keeps theirs (with a new op) or discards it', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const edit: WriteOp = { kind: 'mission', edit: { kind: 'retitle', from: 'A', to: 'B' } };
    const item = box.add('s1', edit);
    box.add('s1', chat('after'));
    const sent = await box.flush(async (i) => (i.op.kind === 'mission' && !i.op.force ? { ok: false, retry: false, conflict: 'the title was changed' } : { ok: true, result: i.key }));
    expect(sent).toHaveLength(1);
    expect(box.pending()).toMatchObject([{ key: item.key, conflict: 'the title was changed' }]);
    expect(box.waiting()).toEqual([]);
    box.retry(item.key, { ...edit, force: true } as WriteOp);
    expect(box.waiting()).toMatchObject([{ key: item.key, op: { force: true } }]);
    expect(await box.flush(async (i) => ({ ok: true, result: i.key }))).toEqual([item.key]);
  });

  it('reads items an older version stored (chat only, with `content`)', () => {
    const storage = new MemoryStorage();
    storage.setItem('ob', JSON.stringify([{ key: 'k1', sessionId: 's1', content: 'old', createdAt: 'x', attempts: 1 }]));
    expect(new Outbox<string>(storage, 'ob', keys).pending()).toEqual([
      { key: 'k1', sessionId: 's1', op: { kind: 'chat', content: 'old' }, createdAt: 'x', attempts: 1 },
    ]);
  });

  it('shares the stored outbox with other tabs: a change never drops theirs', () => {
    const storage = new MemoryStorage();
    const tab1 = new Outbox<string>(storage, 'ob', keys);
    const tab2 = new Outbox<string>(storage, 'ob', keys);
    tab1.add('s1', chat('from tab 1'));
    tab2.add('s1', chat('from tab 2'));
    tab1.reload();
    expect(tab1.pending().map(text)).toEqual(['from tab 1', 'from tab 2']);
  });

  it('runs each flush under the lock it was given', async () => {
    const order: string[] = [];
    const lock = async <T,>(run: () => Promise<T>) => {
      order.push('lock');
      const r = await run();
      order.push('unlock');
      return r;
    };
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys, () => new Date(), lock);
    box.add('s1', chat('x'));
    await box.flush(async (i) => (order.push('send'), { ok: true, result: i.key }));
    expect(order).toEqual(['lock', 'send', 'unlock']);
  });
});

describe('what a failed write means', () => {
  it('retries when the server was not reached, refuses with words otherwise', () => {
    expect(failed({ network: true, message: 'x' })).toEqual({ ok: false, retry: true });
    expect(failed({ status: 401, message: 'x' })).toEqual({ ok: false, retry: true });
    expect(failed({ status: 503, message: 'x' })).toEqual({ ok: false, retry: true });
    expect(failed({ status: 404, message: 'x' })).toMatchObject({ retry: false, error: expect.stringMatching(/no longer exists/) });
    expect(failed({ status: 409, code: 'archived', message: 'x' })).toMatchObject({ error: expect.stringMatching(/archived/) });
    expect(failed({ status: 413, code: 'too_large', message: 'content over 16 KiB' })).toMatchObject({ error: 'content over 16 KiB' });
    expect(humanError({ network: true, message: 'Failed to fetch' })).not.toMatch(/Failed to fetch/);
    expect(describeWrite({ kind: 'lifecycle', action: 'archive', from: 'completed' })).toBe('archive the session');
  });
});
