// The server restarts under a signed-in user; the app never stays stuck.
//  a. Same secret, memory engine: while the server is down the header counts
//     down to the next try with a "Retry now" button; back up, the token still
//     works, the session is gone: the app says so and returns to the list,
//     keeping the message written meanwhile as not sent.
//  b. Dev mode with a new generated secret, Redis engine (the data survives):
//     the old token is refused, the app signs in again through the demo login
//     and sends the messages written while the server was down, once.
//  c. Token sign-in, restarted with another secret: the app asks for a new
//     token, keeps the outbox meanwhile, and sends it once a token is pasted.
// The server is started with explicit flags on a fixed port for each restart.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  connected,
  launchBrowser,
  messageTexts,
  mintToken,
  newPage,
  newSecret,
  restAs,
  rest,
  screenshot,
  signIn,
  startRedis,
  startServer,
  stays,
  until,
} from './harness.mjs';

const pill = (page) => page.getByTestId('connection');

async function createSession(page, name) {
  await page.getByLabel('New session name').fill(name);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/sessions\//);
  await page.locator('.session-title', { hasText: name }).waitFor();
  return page.url().split('#/sessions/')[1];
}

async function say(page, text) {
  await page.getByLabel(/^Message/).fill(text);
  await page.getByLabel(/^Message/).press('Enter');
}

/** A signed-in user in a new session with one delivered message; returns the session id and the token. */
async function inSession(page, user, name, text) {
  await signIn(page, user);
  const id = await createSession(page, name);
  await say(page, text);
  await page.locator('[data-testid=messages] li.msg:not(.pending) .content', { hasText: text }).waitFor();
  return { id, token: await page.evaluate(() => JSON.parse(sessionStorage.getItem('tandem.auth')).token) };
}

/** Clicks "Retry now" if the app is still counting down (it may have reconnected already). */
async function retryNowIfWaiting(page) {
  await page.evaluate(() => {
    const b = document.querySelector('[data-testid=retry-now]');
    if (b instanceof HTMLButtonElement && !b.hidden) b.click();
  });
}

/** Waits for the header to count down to the next try, with "Retry now" shown. */
async function countingDown(page) {
  await pill(page).and(page.locator('[data-state=reconnecting]')).waitFor();
  await page.getByTestId('retry-now').waitFor();
  await until(async () => /retrying in \d+ s/.test(await pill(page).textContent()), 'the countdown');
}

describe('server restarts', { timeout: 120_000 }, () => {
  let browser;
  let server;
  let redis;

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
  });
  afterEach(async () => {
    await server?.stop();
    server = null;
  });
  after(async () => {
    await browser?.close();
    await redis?.stop();
  });

  it('a. same secret, memory engine: the session is gone, the app says so and returns to the list', async () => {
    const args = ['--dev', '--jwt-hs256-secret', newSecret()];
    server = await startServer({ args });
    const A = await newPage(browser, server.url);
    const { token: tokenBefore } = await inSession(A.page, 'alice', 'Before the restart', 'hello');

    await server.restart(args, {
      downFor: async () => {
        await countingDown(A.page);
        await say(A.page, 'written while down');
        await A.page.locator('li.msg.pending', { hasText: 'written while down' }).waitFor();
        await screenshot(A.page, 'reconnecting');
      },
    });
    await retryNowIfWaiting(A.page);
    await connected(A.page);

    // The session did not survive (memory engine): said, and back to the list.
    await A.page.getByTestId('flash').filter({ hasText: /no longer exists on the server/ }).waitFor();
    assert.match(A.page.url(), /#\/$/);
    await A.page.locator('[data-testid=session-list] li.empty', { hasText: 'No sessions here yet.' }).waitFor();
    // The token was still good: no new sign-in, nothing asked of the user.
    assert.equal(await A.page.getByTestId('signin-again').isVisible(), false);
    assert.equal(await A.page.evaluate(() => JSON.parse(sessionStorage.getItem('tandem.auth')).token), tokenBefore);
    // The message written meanwhile is kept, marked as not sent, and can be discarded.
    const orphan = A.page.getByTestId('orphans').locator('li', { hasText: 'written while down' });
    await orphan.filter({ hasText: /no longer exists/ }).waitFor();
    await orphan.getByRole('button', { name: 'Discard' }).click();
    await orphan.waitFor({ state: 'detached' });
    assert.equal(await A.page.evaluate(() => localStorage.getItem('tandem.outbox.alice')), null);
    await A.context.close();
  });

  it('b. dev mode, new secret, Redis: the app signs in again and sends what was written meanwhile, once', async () => {
    const args = ['--dev', '--engine', 'redis', '--redis-url', redis.url, '--redis-prefix', `ui${Date.now()}`];
    server = await startServer({ args });
    const A = await newPage(browser, server.url);
    const { id: sessionId, token: tokenBefore } = await inSession(A.page, 'alice', 'Survives restarts', 'before');

    await server.restart(args, {
      downFor: async () => {
        await countingDown(A.page);
        await say(A.page, 'after one');
        await say(A.page, 'after two');
        await until(async () => (await A.page.locator('li.msg.pending').count()) === 2, 'two pending messages');
      },
    });
    await retryNowIfWaiting(A.page);
    await connected(A.page);
    // A new token from the demo login; the old one is refused by the new secret.
    const tokenAfter = await A.page.evaluate(() => JSON.parse(sessionStorage.getItem('tandem.auth')).token);
    assert.notEqual(tokenAfter, tokenBefore);
    assert.equal(await A.page.getByTestId('signin-again').isVisible(), false);

    await until(async () => (await A.page.locator('li.msg.pending').count()) === 0, 'the outbox to drain');
    await stays(async () => JSON.stringify(await messageTexts(A.page)) === JSON.stringify(['before', 'after one', 'after two']), 'each message once, in order');
    const stored = await rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/messages`);
    assert.deepEqual(stored.map((m) => m.content), ['before', 'after one', 'after two']);

    // A reload with the refused token still in the tab (as right after such a restart)
    // signs in again and loads the session: no endless "Loading…", no error toasts.
    await A.page.evaluate((old) => {
      const auth = JSON.parse(sessionStorage.getItem('tandem.auth'));
      sessionStorage.setItem('tandem.auth', JSON.stringify({ ...auth, token: old }));
    }, tokenBefore);
    await A.page.reload();
    await connected(A.page);
    await A.page.locator('[data-testid=messages] .content', { hasText: 'after two' }).waitFor();
    assert.equal(await A.page.getByTestId('session-loading').isVisible(), false);
    assert.equal(await A.page.locator('.toast').count(), 0);
    assert.notEqual(await A.page.evaluate(() => JSON.parse(sessionStorage.getItem('tandem.auth')).token), tokenBefore);
    await A.context.close();
  });

  it('c. pasted token, new secret: the app asks for a token, keeps the outbox, then sends it', async () => {
    const prefix = `tok${Date.now()}`;
    const on = (secret) => ['--jwt-hs256-secret', secret, '--engine', 'redis', '--redis-url', redis.url, '--redis-prefix', prefix];
    const [first, second] = [newSecret(), newSecret()];
    server = await startServer({ args: on(first) });
    const C = await newPage(browser, server.url);
    await C.page.goto('/');
    await C.page.getByText('Mode: token sign-in').waitFor();
    await C.page.getByLabel('Token', { exact: true }).fill(mintToken(first, 'carol'));
    await C.page.getByRole('button', { name: 'Sign in with token' }).click();
    await connected(C.page);
    const sessionId = await createSession(C.page, 'Signed with a token');
    await say(C.page, 'first');
    await C.page.locator('[data-testid=messages] li.msg:not(.pending) .content', { hasText: 'first' }).waitFor();

    await server.restart(on(second));
    await retryNowIfWaiting(C.page);
    const panel = C.page.getByTestId('signin-again');
    await panel.filter({ hasText: /no longer accepts your token/ }).waitFor();
    await pill(C.page).and(C.page.locator('[data-state=signin]')).waitFor();
    await say(C.page, 'kept for later');
    await C.page.locator('li.msg.pending', { hasText: 'kept for later' }).waitFor();
    await panel.filter({ hasText: '1 unsent change is kept' }).waitFor();
    await C.page.evaluate(() => scrollTo(0, 0));
    await screenshot(C.page, 'signin-again');

    // A token for another user is refused (the outbox is carol's).
    await panel.getByLabel('New token').fill(mintToken(second, 'mallory'));
    await panel.getByRole('button', { name: 'Use this token' }).click();
    await panel.filter({ hasText: /for "mallory"/ }).waitFor();
    await panel.getByLabel('New token').fill(mintToken(second, 'carol'));
    await panel.getByRole('button', { name: 'Use this token' }).click();
    await connected(C.page);
    await panel.waitFor({ state: 'hidden' });
    await until(async () => (await C.page.locator('li.msg.pending').count()) === 0, 'the outbox to drain');
    const stored = await restAs(server.url, mintToken(second, 'carol'), 'GET', `/api/sessions/${sessionId}/messages`);
    assert.deepEqual(stored.map((m) => m.content), ['first', 'kept for later']);
    await C.context.close();
  });
});
