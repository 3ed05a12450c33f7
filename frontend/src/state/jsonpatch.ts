// A small RFC 6902 JSON Patch implementation: what the server stores in a
// `mission.updated` event is applied to the local copy of the mission.

import type { PatchOp } from '../types';

export class PatchError extends Error {}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`bad JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

function parentOf(doc: unknown, tokens: string[]): unknown {
  let node: any = doc;
  for (const t of tokens.slice(0, -1)) {
    if (node === null || typeof node !== 'object') throw new PatchError(`no parent for ${tokens.join('/')}`);
    node = Array.isArray(node) ? node[Number(t)] : node[t];
    if (node === undefined) throw new PatchError(`path /${tokens.join('/')} does not exist`);
  }
  if (node === null || typeof node !== 'object') throw new PatchError(`no container at /${tokens.join('/')}`);
  return node;
}

function get(doc: unknown, path: string): unknown {
  let node: any = doc;
  for (const t of parsePointer(path)) {
    if (node === null || typeof node !== 'object') throw new PatchError(`path ${path} does not exist`);
    node = Array.isArray(node) ? node[Number(t)] : node[t];
    if (node === undefined) throw new PatchError(`path ${path} does not exist`);
  }
  return node;
}

function index(arr: unknown[], token: string, adding: boolean): number {
  if (adding && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`bad array index ${token}`);
  const i = Number(token);
  if (i > arr.length || (!adding && i === arr.length)) throw new PatchError(`index ${i} out of bounds`);
  return i;
}

function add(doc: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const parent: any = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) parent.splice(index(parent, last, true), 0, value);
  else parent[last] = value;
  return doc;
}

function remove(doc: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new PatchError('cannot remove the whole document');
  const parent: any = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) parent.splice(index(parent, last, false), 1);
  else {
    if (!(last in parent)) throw new PatchError(`path ${path} does not exist`);
    delete parent[last];
  }
  return doc;
}

/** Applies `ops` to a copy of `doc`; throws `PatchError` when an operation fails. */
export function applyPatch<T>(doc: T, ops: PatchOp[]): T {
  let out: unknown = clone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        out = add(out, op.path, clone(op.value));
        break;
      case 'remove':
        out = remove(out, op.path);
        break;
      case 'replace':
        if (op.path === '') out = clone(op.value);
        else out = add(remove(out, op.path), op.path, clone(op.value));
        break;
      case 'move': {
        const value = get(out, op.from);
        out = add(remove(out, op.from), op.path, value);
        break;
      }
      case 'copy':
        out = add(out, op.path, clone(get(out, op.from)));
        break;
      case 'test':
        if (JSON.stringify(get(out, op.path)) !== JSON.stringify(op.value)) {
          throw new PatchError(`test failed at ${op.path}`);
        }
        break;
    }
  }
  return out as T;
}
