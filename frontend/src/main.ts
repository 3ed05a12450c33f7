import './styles.css';
import { ApiClient } from './api';
import { Auth } from './auth';
import { App } from './ui/app';
import { h } from './ui/dom';
import { signInView } from './ui/signin';

const root = document.getElementById('app')!;
const RETRY_MS = 5000;

function startApp(auth: Auth): void {
  const app = new App(auth, root, () => location.reload());
  void app.start();
}

/** The sign-in page; when the server cannot be reached, says so and tries again. */
async function showSignIn(): Promise<void> {
  let demo: boolean;
  try {
    demo = await ApiClient.demoAvailable();
  } catch {
    const retry = h('button', { type: 'button', class: 'primary', onclick: () => void showSignIn() }, 'Retry now');
    root.replaceChildren(
      h(
        'main',
        { class: 'signin', id: 'main' },
        h('h1', null, 'Tandem'),
        h('p', { class: 'error', role: 'alert', 'data-testid': 'unreachable' }, `Cannot reach the server. Trying again in ${RETRY_MS / 1000} s.`),
        retry,
      ),
    );
    setTimeout(() => {
      if (retry.isConnected) void showSignIn();
    }, RETRY_MS);
    return;
  }
  document.body.dataset.mode = demo ? 'demo' : 'token';
  root.replaceChildren(signInView(demo, startApp));
  root.querySelector<HTMLInputElement>('input, textarea')?.focus();
}

const auth = Auth.restore();
if (auth) startApp(auth);
else void showSignIn();
