// Sign-in: the demo login when the server is in dev mode, otherwise a pasted token.

import { Auth } from '../auth';
import { h, labelled } from './dom';

export function signInView(demo: boolean, onSignedIn: (auth: Auth) => void): HTMLElement {
  const error = h('p', { class: 'error', role: 'alert' });
  const fail = (err: unknown) => {
    error.textContent = err instanceof Error ? err.message : String(err);
  };
  const demoForm = () => {
    const user = h('input', { name: 'user', autocomplete: 'username', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', title: '1 to 64 letters, digits, ".", "_" or "-"', placeholder: 'alice' });
    return h(
      'form',
      {
        class: 'card',
        'aria-labelledby': 'demo-title',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            onSignedIn(await Auth.demo(user.value.trim()));
          } catch (err) {
            fail(err);
          }
        },
      },
      h('h2', { id: 'demo-title' }, 'Demo login'),
      h('p', { class: 'hint' }, 'This server runs in dev mode: pick any user name. Open a second window (or a private one) to sign in as someone else.'),
      labelled('signin-user', 'User name', user),
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    );
  };
  const tokenForm = () => {
    const token = h('textarea', { name: 'token', rows: 4, required: true, spellcheck: 'false', placeholder: 'eyJhbGciOi…' });
    return h(
      'form',
      {
        class: 'card',
        'aria-labelledby': 'token-title',
        onsubmit: (e: Event) => {
          e.preventDefault();
          try {
            onSignedIn(Auth.pasted(token.value));
          } catch (err) {
            fail(err);
          }
        },
      },
      h('h2', { id: 'token-title' }, demo ? 'Or paste a token' : 'Sign in with a token'),
      h('p', { class: 'hint' }, 'A connection token (JWT) from your identity provider, or from `cargo run --release -- token --user NAME` with the server\'s secret.'),
      labelled('signin-token', 'Token', token),
      h('button', { type: 'submit', class: demo ? undefined : 'primary' }, 'Sign in with token'),
    );
  };
  return h(
    'main',
    { class: 'signin', id: 'main' },
    h('h1', null, 'Tandem'),
    h('p', { class: 'tagline' }, 'Sessions with live chat, presence and a shared mission plan.'),
    h('p', { class: 'mode', 'data-testid': 'mode' }, demo ? 'Mode: demo login (server in dev mode)' : 'Mode: token sign-in'),
    demo ? demoForm() : null,
    tokenForm(),
    error,
  );
}
