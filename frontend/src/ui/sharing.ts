// Collaborators: who has access and with which role; the owner shares,
// changes roles and revokes (through the outbox, so offline too).

import type { Rights } from '../state/rights';
import type { SessionState } from '../state/session';
import type { Role } from '../types';
import { h, labelled, replace } from './dom';
import type { SessionContext } from './session';

export function sharingPanel({ app, id }: SessionContext) {
  const list = h('ul', { class: 'collaborators', 'data-testid': 'collaborators' });
  const note = h('p', { class: 'hint' });
  const user = h('input', {
    name: 'user',
    required: true,
    maxlength: 128,
    pattern: '[^\\/]{1,128}',
    title: 'A user id: 1 to 128 characters, no "/"',
    placeholder: 'bob',
  });
  const role = h('select', { name: 'role' }, h('option', { value: 'editor' }, 'editor'), h('option', { value: 'viewer' }, 'viewer'));
  const form = h(
    'form',
    {
      class: 'row wrap share-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const u = user.value.trim();
        if (!u) return;
        app.write(id, { kind: 'share', user: u, role: role.value as Exclude<Role, 'owner'> });
        user.value = '';
      },
    },
    labelled('share-user', 'User id', user),
    labelled('share-role', 'Role', role),
    h('button', { type: 'submit' }, 'Share'),
  );

  function render(s: SessionState, r: Rights) {
    const queued = app.outbox.pending(id).filter((i) => !i.error && !i.conflict);
    const sharing = new Map<string, Role>();
    const revoking = new Set<string>();
    for (const i of queued) {
      if (i.op.kind === 'share') sharing.set(i.op.user, i.op.role);
      if (i.op.kind === 'revoke') revoking.add(i.op.user);
    }
    const people = s.session.collaborators.map((c) => c.user_id);
    const newcomers = [...sharing.keys()].filter((u) => !people.includes(u));
    replace(
      list,
      s.session.collaborators.map((c) => {
        const pendingRole = sharing.get(c.user_id);
        const gone = revoking.has(c.user_id);
        return h(
          'li',
          { 'data-user': c.user_id, class: gone || pendingRole ? 'pending' : undefined },
          h('span', { class: 'who' }, c.user_id === app.auth.user ? `${c.user_id} (you)` : c.user_id),
          r.share && c.role !== 'owner'
            ? h(
                'select',
                {
                  'aria-label': `Role of ${c.user_id}`,
                  onchange: (e: Event) =>
                    app.write(id, { kind: 'share', user: c.user_id, role: (e.target as HTMLSelectElement).value as Exclude<Role, 'owner'> }),
                },
                (['editor', 'viewer'] as const).map((x) => h('option', { value: x, selected: x === (pendingRole ?? c.role) }, x)),
              )
            : h('span', { class: 'badge' }, c.role),
          gone ? h('span', { class: 'meta' }, 'removing: pending') : pendingRole ? h('span', { class: 'meta' }, 'pending') : null,
          r.share && c.role !== 'owner' && !gone
            ? h(
                'button',
                { type: 'button', class: 'small', 'aria-label': `Revoke ${c.user_id}`, onclick: () => app.write(id, { kind: 'revoke', user: c.user_id }) },
                'Revoke',
              )
            : null,
        );
      }),
      newcomers.map((u) =>
        h('li', { 'data-user': u, class: 'pending' }, h('span', { class: 'who' }, u), h('span', { class: 'badge' }, sharing.get(u)!), h('span', { class: 'meta' }, 'sharing: pending')),
      ),
    );
    form.hidden = !r.share;
    note.textContent = r.share ? '' : s.role === 'owner' ? 'Restore the session to change who has access.' : 'Only the owner changes who has access.';
  }

  const el = h('section', { class: 'panel', 'aria-labelledby': 'share-h' }, h('h3', { id: 'share-h' }, 'Collaborators'), list, note, form);
  return { el, render };
}
