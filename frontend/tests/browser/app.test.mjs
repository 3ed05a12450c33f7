// The frontend in a real browser (system Chromium through playwright-core)
// against the real server: two users in two browser contexts.
//  1. A creates a session and shares it with B; B's list shows it live; chat
//     both ways; presence and typing on both sides.
//  2. B goes offline; A sends 5 messages and edits the mission; B comes back
//     and shows all 5 once, in order, and the edit.
//  3. B writes 2 messages offline: pending, then delivered once; A sees each once.
//  4. Both change the same step's status at once: both end equal to the server.
// Screenshots of the main screens go to docs/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connected, launchBrowser, messageTexts, newPage, rest, screenshot, signIn, startServer, until } from './harness.mjs';

describe('Tandem frontend, two users', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let A; // { context, page } for alice
  let B; // for bob
  let sessionId;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    A = await newPage(browser, server.url);
    B = await newPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('1. share live, chat both ways, presence and typing', async () => {
    await A.page.goto('/');
    await A.page.getByText('Mode: demo login').waitFor();
    await screenshot(A.page, 'sign-in');
    await signIn(A.page, 'alice');
    await signIn(B.page, 'bob');

    // Alice creates a session (the app opens it) and shares it with Bob.
    await A.page.getByLabel('New session name').fill('Trip to Lisbon');
    await A.page.getByRole('button', { name: 'Create' }).click();
    await A.page.waitForURL(/#\/sessions\//);
    sessionId = A.page.url().split('#/sessions/')[1];
    await A.page.locator('.session-title', { hasText: 'Trip to Lisbon' }).waitFor();
    await A.page.getByLabel('User id').fill('bob');
    await A.page.getByLabel('Role').selectOption('editor');
    await A.page.getByRole('button', { name: 'Share' }).click();

    // Bob's list shows it without a reload.
    const link = B.page.locator(`[data-session="${sessionId}"] a`);
    await link.waitFor({ timeout: 5000 });
    // Bob's own new session shows up live too; the status filter and search work.
    await rest(server.url, 'bob', 'POST', '/api/sessions', { name: 'Weekly review' });
    await B.page.locator('[data-testid=session-list] li', { hasText: 'Weekly review' }).waitFor({ timeout: 5000 });
    await B.page.getByLabel('Search by name').fill('lisbon');
    await until(async () => (await B.page.locator('[data-testid=session-list] li').count()) === 1, 'search to filter');
    await B.page.getByLabel('Search by name').fill('');
    await B.page.getByLabel('Status').selectOption('archived');
    await B.page.locator('[data-testid=session-list] li.empty').waitFor();
    await B.page.getByLabel('Status').selectOption('all');
    await screenshot(B.page, 'session-list');
    await link.click();
    await B.page.locator('.session-title', { hasText: 'Trip to Lisbon' }).waitFor();

    // Presence both ways.
    await A.page.locator('[data-testid=presence] [data-user=bob]').waitFor();
    await B.page.locator('[data-testid=presence] [data-user=alice]').waitFor();

    // Typing indicator both ways.
    await A.page.getByLabel(/^Message/).pressSequentially('Hel');
    await B.page.locator('[data-testid=typing]', { hasText: 'alice is typing' }).waitFor({ timeout: 5000 });
    await A.page.getByLabel(/^Message/).fill('Hello Bob');
    await A.page.getByLabel(/^Message/).press('Enter');
    await B.page.locator('[data-testid=messages] .content', { hasText: 'Hello Bob' }).waitFor();
    await B.page.getByLabel(/^Message/).pressSequentially('Hi');
    await A.page.locator('[data-testid=typing]', { hasText: 'bob is typing' }).waitFor({ timeout: 5000 });
    await B.page.getByLabel(/^Message/).fill('Hi Alice');
    await B.page.getByRole('button', { name: 'Send' }).click();
    await A.page.locator('[data-testid=messages] .content', { hasText: 'Hi Alice' }).waitFor();
    // Sending stops the typing indicator.
    await A.page.locator('[data-testid=typing]', { hasText: /^$/ }).waitFor({ timeout: 5000 });

    // A mission with a hop and a step, built through the UI.
    await A.page.getByLabel('Mission title').fill('Plan the trip');
    await A.page.getByRole('button', { name: 'Create mission' }).click();
    await A.page.getByLabel('New hop name').fill('Flights');
    await A.page.getByLabel('New hop name').press('Enter');
    await A.page.getByLabel('New step in Flights').fill('Search flights');
    await A.page.getByLabel('New step in Flights').press('Enter');
    await B.page.getByLabel('Step name: Search flights').waitFor();
    await A.page.getByLabel('Asset name').fill('notes.txt');
    await A.page.getByLabel('Text content').fill('Window seats, please.');
    await A.page.getByRole('button', { name: 'Add text asset' }).click();
    await B.page.locator('[data-testid=assets]', { hasText: 'notes.txt' }).waitFor();
    assert.deepEqual(await messageTexts(A.page), ['Hello Bob', 'Hi Alice']);
    assert.deepEqual(await messageTexts(B.page), ['Hello Bob', 'Hi Alice']);
    await A.page.getByLabel(/^Message/).pressSequentially('Shall we');
    await B.page.locator('[data-testid=typing]', { hasText: 'alice is typing' }).waitFor({ timeout: 5000 });
    await screenshot(B.page, 'session');
    await A.page.getByLabel(/^Message/).fill('');
  });

  it('2. offline B catches up: 5 messages once, in order, and the mission edit', async () => {
    await B.context.setOffline(true);
    await B.page.locator('[data-testid=connection][data-state=offline]').waitFor({ timeout: 5000 });
    for (let i = 1; i <= 5; i++) {
      await A.page.getByLabel(/^Message/).fill(`while you were away ${i}`);
      await A.page.getByLabel(/^Message/).press('Enter');
    }
    await A.page.locator('[data-testid=messages] .content', { hasText: 'while you were away 5' }).waitFor();
    await A.page.getByLabel('Hop name: Flights').fill('Flights to Lisbon');
    await A.page.getByLabel('Hop name: Flights').press('Enter');
    await A.page.getByLabel('Hop name: Flights to Lisbon').waitFor();
    assert.equal((await messageTexts(B.page)).length, 2, 'B saw nothing while offline');

    await B.context.setOffline(false);
    await connected(B.page);
    const expected = ['Hello Bob', 'Hi Alice', ...[1, 2, 3, 4, 5].map((i) => `while you were away ${i}`)];
    await until(async () => (await messageTexts(B.page)).length >= 7, 'B to show the 7 messages');
    await new Promise((r) => setTimeout(r, 500)); // would a duplicate come?
    assert.deepEqual(await messageTexts(B.page), expected);
    await B.page.getByLabel('Hop name: Flights to Lisbon').waitFor();
  });

  it('3. messages written offline are pending, then delivered once', async () => {
    await B.context.setOffline(true);
    await B.page.locator('[data-testid=connection][data-state=offline]').waitFor({ timeout: 5000 });
    for (const text of ['offline one', 'offline two']) {
      await B.page.getByLabel(/^Message/).fill(text);
      await B.page.getByLabel(/^Message/).press('Enter');
    }
    await until(async () => (await B.page.locator('li.msg.pending').count()) === 2, 'two pending messages');
    assert.deepEqual(await B.page.locator('li.msg.pending .content').allTextContents(), ['offline one', 'offline two']);
    const stored = await B.page.evaluate(() => JSON.parse(localStorage.getItem('tandem.outbox.bob') ?? '[]').length);
    assert.equal(stored, 2, 'the outbox is persisted');
    await screenshot(B.page, 'offline-pending');

    await B.context.setOffline(false);
    await connected(B.page);
    await until(async () => (await B.page.locator('li.msg.pending').count()) === 0, 'the outbox to drain');
    await until(async () => (await messageTexts(A.page)).includes('offline two'), 'A to get the messages');
    await new Promise((r) => setTimeout(r, 500));
    for (const page of [A.page, B.page]) {
      const texts = await messageTexts(page);
      assert.equal(texts.filter((t) => t === 'offline one').length, 1);
      assert.equal(texts.filter((t) => t === 'offline two').length, 1);
      assert.deepEqual(texts.slice(-2), ['offline one', 'offline two']);
    }
    const onServer = await rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/messages?limit=200`);
    assert.equal(onServer.filter((m) => m.content.startsWith('offline ')).length, 2, 'stored once each');
    assert.equal(await B.page.evaluate(() => localStorage.getItem('tandem.outbox.bob')), null);
  });

  it('4. both edit the same step status at once and converge on the server state', async () => {
    const label = 'Status of step Search flights';
    await Promise.all([A.page.getByLabel(label).selectOption('completed'), B.page.getByLabel(label).selectOption('failed')]);
    const settle = async () => {
      const mission = await rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/mission`);
      const want = mission.hops[0].steps[0].status;
      await until(async () => {
        const [a, b] = await Promise.all([A.page.getByLabel(label).inputValue(), B.page.getByLabel(label).inputValue()]);
        const [ra, rb] = await Promise.all([A.page.getByTestId('revision').textContent(), B.page.getByTestId('revision').textContent()]);
        return a === want && b === want && ra === `rev ${mission.revision}` && rb === ra;
      }, `both pages at ${want}, rev ${mission.revision}`);
      return mission;
    };
    await new Promise((r) => setTimeout(r, 500));
    let mission = await settle();
    // Whoever lost the race is told, and can keep their value: then both converge on it.
    for (const [page, mine] of [
      [A.page, 'completed'],
      [B.page, 'failed'],
    ]) {
      if (await page.getByTestId('conflict').isVisible()) {
        assert.match(await page.getByTestId('conflict').textContent(), /conflicted/);
        await page.getByTestId('conflict-keep').click();
        await until(async () => (await rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/mission`)).hops[0].steps[0].status === mine, 'the kept edit');
        mission = await settle();
        assert.equal(mission.hops[0].steps[0].status, mine);
      }
    }
    assert.ok(['completed', 'failed'].includes(mission.hops[0].steps[0].status));
  });

  it('phone-sized screen', async () => {
    await B.page.setViewportSize({ width: 390, height: 844 });
    await B.page.locator('.session-title').waitFor();
    await screenshot(B.page, 'phone');
    const overflow = await B.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  });
});
