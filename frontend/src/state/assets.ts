// Assets as the panel shows them: grouped by scope (the session, its
// mission, each hop), with the ones waiting in the outbox, and how each can
// be previewed. Pure.

import type { Asset, AssetScope, Mission } from '../types';
import type { OutboxItem } from './outbox';
import type { NewAsset } from './writes';

/** `type/subtype` as the server accepts it (RFC 6838 restricted names). */
export function validMediaType(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(s.trim());
}

export type AssetRow =
  | { kind: 'stored'; asset: Asset; removing: boolean }
  | { kind: 'pending'; key: string; asset: NewAsset };

export interface AssetGroup {
  key: string;
  label: string;
  rows: AssetRow[];
}

export function scopeKey(scope: AssetScope | undefined): string {
  if (!scope || scope.kind === 'session') return 'session';
  return scope.kind === 'mission' ? 'mission' : `hop:${scope.hop_id}`;
}

/** Groups in a stable order: session, mission, then hops in mission order (unknown hops last). */
export function groupAssets(assets: Asset[], queued: OutboxItem[], mission: Mission | null): AssetGroup[] {
  const removing = new Set<string>();
  const rows: { scope: string; row: AssetRow }[] = [];
  for (const i of queued) if (i.op.kind === 'assetRemove' && !i.error && !i.conflict) removing.add(i.op.assetId);
  for (const a of assets) rows.push({ scope: scopeKey(a.scope), row: { kind: 'stored', asset: a, removing: removing.has(a.id) } });
  for (const i of queued) {
    if (i.op.kind === 'assetAdd' && !i.error && !i.conflict) rows.push({ scope: scopeKey(i.op.asset.scope), row: { kind: 'pending', key: i.key, asset: i.op.asset } });
  }
  const hops = mission?.hops ?? [];
  const order = ['session', 'mission', ...hops.map((h) => `hop:${h.id}`)];
  const label = (key: string) => {
    if (key === 'session') return 'Session';
    if (key === 'mission') return 'Mission';
    const hopId = key.slice(4);
    const hop = hops.find((h) => h.id === hopId);
    return hop ? `Hop: ${hop.name}` : `Hop ${hopId} (no longer in the mission)`;
  };
  const keys = [...new Set(rows.map((r) => r.scope))].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || a.localeCompare(b);
  });
  return keys.map((key) => ({ key, label: label(key), rows: rows.filter((r) => r.scope === key).map((r) => r.row) }));
}

export type Preview = 'text' | 'json' | 'image' | 'link' | 'none';

/** How an asset can be shown: inline text/JSON, an image from a web or data URI, a link. */
export function previewOf(a: { media_type: string; content?: string; uri?: string }): Preview {
  const type = a.media_type.toLowerCase();
  if (a.content !== undefined && a.content !== null) return type.includes('json') ? 'json' : 'text';
  if (!a.uri) return 'none';
  const safe = /^(https?:|data:image\/)/i.test(a.uri);
  if (type.startsWith('image/') && safe) return 'image';
  return /^https?:/i.test(a.uri) ? 'link' : 'none';
}
