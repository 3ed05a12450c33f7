// What the chat shows: the messages in the state, the ones delivered but not
// yet echoed by the stream, and the chat messages still in the outbox
// (pending). Pure.

import type { ChatMessage } from '../types';
import type { OutboxItem } from './outbox';

export type ChatLine =
  | { kind: 'message'; message: ChatMessage }
  | { kind: 'pending'; item: OutboxItem };

export function chatLines(
  messages: ChatMessage[],
  delivered: ChatMessage[],
  pending: OutboxItem[],
): ChatLine[] {
  const ids = new Set(messages.map((m) => m.id));
  const keys = new Set(messages.map((m) => m.idempotency_key).filter(Boolean));
  const echoed = delivered.filter((m) => !ids.has(m.id));
  for (const m of echoed) if (m.idempotency_key) keys.add(m.idempotency_key);
  const shown = [...messages, ...echoed].sort((a, b) => a.offset - b.offset);
  return [
    ...shown.map((message) => ({ kind: 'message' as const, message })),
    ...pending
      .filter((i) => i.op.kind === 'chat' && !keys.has(i.key))
      .map((item) => ({ kind: 'pending' as const, item })),
  ];
}
