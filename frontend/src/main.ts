import './styles.css';
import { ApiClient } from './api';
import { Auth } from './auth';
import { App } from './ui/app';
import { signInView } from './ui/signin';

const root = document.getElementById('app')!;

async function boot(): Promise<void> {
  const demo = await ApiClient.demoAvailable();
  document.body.dataset.mode = demo ? 'demo' : 'token';
  const auth = Auth.restore();
  if (auth) {
    const app = new App(auth, root, () => location.reload());
    await app.start();
    return;
  }
  root.replaceChildren(
    signInView(demo, (a) => {
      const app = new App(a, root, () => location.reload());
      void app.start();
    }),
  );
  root.querySelector<HTMLInputElement>('input, textarea')?.focus();
}

void boot();
