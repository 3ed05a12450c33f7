// Assets: grouped by scope (session, mission, hop), text shown inline, images
// and links by URI; add one (text or URI, any media type, any scope) or
// delete one, through the outbox.

import { groupAssets, previewOf, validMediaType, type AssetRow } from '../state/assets';
import type { Rights } from '../state/rights';
import type { SessionState } from '../state/session';
import type { AssetScope } from '../types';
import { h, labelled, replace } from './dom';
import type { SessionContext } from './session';

const MEDIA_TYPES = ['text/plain', 'text/markdown', 'text/csv', 'application/json', 'image/png', 'image/jpeg', 'application/pdf'];

export function assetsPanel({ app, id }: SessionContext) {
  const list = h('div', { class: 'asset-groups', 'data-testid': 'assets' });
  const note = h('p', { class: 'hint' });
  const error = h('p', { class: 'error', role: 'alert' });

  const name = h('input', { name: 'asset-name', required: true, maxlength: 200, placeholder: 'notes.txt' });
  const kind = h(
    'select',
    { name: 'asset-kind', onchange: () => showKind() },
    h('option', { value: 'text' }, 'Text'),
    h('option', { value: 'uri' }, 'Link (URI)'),
  );
  const content = h('textarea', { name: 'asset-content', rows: 3, maxlength: 32768 });
  const uri = h('input', { name: 'asset-uri', type: 'url', placeholder: 'https://example.com/map.png' });
  const mediaType = h('input', { name: 'asset-type', value: 'text/plain', list: 'media-types', spellcheck: 'false' });
  const types = h('datalist', { id: 'media-types' }, MEDIA_TYPES.map((t) => h('option', { value: t })));
  const scope = h('select', { name: 'asset-scope' });
  const contentField = labelled('asset-content', 'Text content', content);
  const uriField = labelled('asset-uri', 'URI', uri);
  const submit = h('button', { type: 'submit' }, 'Add asset');

  function showKind() {
    const isText = kind.value === 'text';
    contentField.hidden = !isText;
    uriField.hidden = isText;
    if (!isText && mediaType.value === 'text/plain') mediaType.value = 'image/png';
    if (isText && mediaType.value === 'image/png') mediaType.value = 'text/plain';
  }

  const form = h(
    'form',
    {
      class: 'stack asset-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        error.textContent = '';
        const type = mediaType.value.trim();
        if (!validMediaType(type)) {
          error.textContent = 'The media type must look like type/subtype, e.g. text/plain.';
          return;
        }
        const isText = kind.value === 'text';
        if (isText ? content.value === '' : uri.value.trim() === '') {
          error.textContent = isText ? 'Write some text content.' : 'Give the URI.';
          return;
        }
        const [scopeKind, hopId] = scope.value.split(':');
        const s: AssetScope = scopeKind === 'hop' ? { kind: 'hop', hop_id: hopId } : scopeKind === 'mission' ? { kind: 'mission' } : { kind: 'session' };
        app.write(id, {
          kind: 'assetAdd',
          asset: { name: name.value.trim(), media_type: type, scope: s, ...(isText ? { content: content.value } : { uri: uri.value.trim() }) },
        });
        name.value = '';
        content.value = '';
        uri.value = '';
      },
    },
    h(
      'div',
      { class: 'row wrap' },
      labelled('asset-name', 'Asset name', name),
      labelled('asset-kind', 'Kind', kind),
      labelled('asset-type', 'Media type', mediaType),
      labelled('asset-scope', 'Attach to', scope),
    ),
    contentField,
    uriField,
    types,
    error,
    submit,
  );
  showKind();

  /** Which assets the user opened (kept across re-renders). */
  const opened = new Set<string>();
  const row = (r: AssetRow, canDelete: boolean, deleteNote: string) => {
    const key = r.kind === 'stored' ? r.asset.id : r.key;
    const a = r.kind === 'stored' ? r.asset : { ...r.asset, created_by: app.auth.user };
    const preview = previewOf(a);
    const body =
      preview === 'text' || preview === 'json'
        ? h('pre', null, a.content)
        : preview === 'image'
          ? h('img', { src: a.uri, alt: a.name, loading: 'lazy' })
          : a.uri
            ? h('p', null, preview === 'link' ? h('a', { href: a.uri, rel: 'noopener noreferrer', target: '_blank' }, a.uri) : h('code', null, a.uri))
            : null;
    const state = r.kind === 'pending' ? 'adding: pending' : r.removing ? 'deleting: pending' : '';
    return h(
      'li',
      { class: state ? 'pending' : undefined, 'data-asset': key, 'data-name': a.name },
      h(
        'details',
        {
          open: opened.has(key),
          ontoggle: (e: Event) => ((e.target as HTMLDetailsElement).open ? opened.add(key) : opened.delete(key)),
        },
        h(
          'summary',
          null,
          h('span', { class: 'asset-name' }, a.name),
          ' ',
          h('span', { class: 'meta' }, `${a.media_type} · ${a.created_by}`),
          state ? h('span', { class: 'meta' }, ` · ${state}`) : null,
        ),
        body,
      ),
      r.kind === 'stored' && !r.removing
        ? h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-label': `Delete asset ${a.name}`,
              disabled: !canDelete,
              title: canDelete ? '' : deleteNote,
              onclick: () => app.write(id, { kind: 'assetRemove', assetId: r.asset.id, name: r.asset.name }),
            },
            'Delete',
          )
        : null,
    );
  };

  function render(s: SessionState, r: Rights) {
    const groups = groupAssets(s.assets, app.outbox.pending(id), s.mission);
    const canDelete = r.write;
    const deleteNote = r.writeNote ?? '';
    replace(
      list,
      groups.length === 0 ? h('p', { class: 'empty' }, 'No assets yet.') : null,
      groups.map((g) =>
        h('section', { class: 'asset-group', 'data-scope': g.key }, h('h4', null, g.label), h('ul', { class: 'assets' }, g.rows.map((x) => row(x, canDelete, deleteNote)))),
      ),
    );
    const options: [string, string][] = [['session', 'The session']];
    if (s.mission) {
      options.push(['mission', 'The mission']);
      for (const hop of s.mission.hops) options.push([`hop:${hop.id}`, `Hop: ${hop.name}`]);
    }
    const chosen = scope.value;
    replace(scope, options.map(([v, label]) => h('option', { value: v, selected: v === chosen }, label)));
    form.hidden = !r.write;
    for (const c of form.querySelectorAll<HTMLInputElement>('input, textarea, select, button')) c.disabled = !r.write;
    note.textContent = r.write ? '' : (r.writeNote ?? '');
  }

  const el = h('section', { class: 'panel', 'aria-labelledby': 'assets-h' }, h('h3', { id: 'assets-h' }, 'Assets'), list, note, form);
  return { el, render };
}
