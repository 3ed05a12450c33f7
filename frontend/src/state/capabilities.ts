// What this server offers, read from its OpenAPI document (`GET
// /api/openapi.json`, no auth), so the app can turn on features a newer
// server has and leave them off (with a reason) on one that lacks them. Pure.

export interface Capabilities {
  /** `DELETE /api/sessions/{id}/assets/{asset_id}`. */
  assetDelete: boolean;
}

export const NO_CAPABILITIES: Capabilities = { assetDelete: false };

type Paths = Record<string, Record<string, unknown>>;

function has(paths: Paths, pattern: RegExp, method: string): boolean {
  return Object.entries(paths).some(([path, ops]) => pattern.test(path) && ops && method in ops);
}

export function capabilitiesFrom(openapi: unknown): Capabilities {
  const paths = (openapi as { paths?: Paths } | null)?.paths;
  if (!paths || typeof paths !== 'object') return NO_CAPABILITIES;
  return {
    assetDelete: has(paths, /^\/api\/sessions\/\{[^}]+\}\/assets\/\{[^}]+\}$/, 'delete'),
  };
}
