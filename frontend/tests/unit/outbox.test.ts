import { describe, expect, it } from 'vitest';
import { MemoryStorage, Outbox, type OutboxItem, type SendOutcome } from '../../src/state/outbox';
import { chatLines } from '../../src/state/messages';
import { message } from './fixtures';

let n = 0;
const keys = () => `key-${++n}`;

describe('Outbox', () => {
  it('keeps messages pending until sent, then sends each once with a stable key', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const a = box.add('s1', 'hello');
    const b = box.add('s1', 'world');
    expect(box.pending('s1').map((i) => i.content)).toEqual(['hello', 'world']);

    // Offline: the first attempt does not reach the server; order is kept.
    const attempts: string[] = [];
    let online = false;
    const send = async (item: OutboxItem): Promise<SendOutcome<string>> => {
      attempts.push(item.key);
      return online ? { ok: true, result: item.content } : { ok: false, retry: true };
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
    box.add('s1', 'once');
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const send = async (item: OutboxItem): Promise<SendOutcome<string>> => {
      calls++;
      await gate;
      return { ok: true, result: item.content };
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
    const item = before.add('s1', 'written offline');
    const after = new Outbox<string>(storage, 'tandem.outbox.bob', keys);
    expect(after.pending()).toEqual([{ ...item, attempts: 0 }]);
    const sent: string[] = [];
    await after.flush(async (i) => (sent.push(i.key), { ok: true, result: i.content }));
    expect(sent).toEqual([item.key]);
    expect(storage.getItem('tandem.outbox.bob')).toBeNull();
    expect(new Outbox<string>(storage, 'tandem.outbox.bob', keys).pending()).toEqual([]);
  });

  it('marks a refused message failed (not retried by itself) and sends the rest', async () => {
    const box = new Outbox<string>(new MemoryStorage(), 'ob', keys);
    const bad = box.add('s1', 'too big');
    box.add('s1', 'fine');
    const sent = await box.flush(async (i) =>
      i.key === bad.key ? { ok: false, retry: false, error: 'too large' } : { ok: true, result: i.content },
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
    const item = box.add('sid', 'hi');
    const echoed = { ...message(7, 'hi'), idempotency_key: item.key };
    expect(chatLines([], [], box.pending()).map((l) => l.kind)).toEqual(['pending']);
    // Delivered (the REST answer) but not yet in the stream: shown once, as a message.
    expect(chatLines([], [echoed], box.pending()).map((l) => l.kind)).toEqual(['message']);
    // In the stream too: still once.
    expect(chatLines([echoed], [echoed], [])).toHaveLength(1);
  });
});
