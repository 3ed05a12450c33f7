// Two users in two browser contexts against the real server (dev mode):
//  1. A creates a session and shares it with B; B's list shows it live; chat
//     both ways (role-tagged too); presence and typing on both sides.
//  2. B goes offline; A sends 5 messages and edits the mission; B comes back
//     and shows all 5 once, in order, and the edit.
//  3. B writes 2 messages offline: pending, then delivered once; A sees each once.
//  4. Both change the same step's status at once: the loser is told, keeps
//     theirs, and both converge on the server's state.
//  5. B edits the mission offline: shown at once as pending, sent once on
//     reconnect, seen by A.
//  6. Phone-sized screen: tabs, no horizontal scrolling, one-line header.
// Screenshots of the main screens go to docs/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connected, launchBrowser, messageTexts, newPage, rest, screenshot, signIn, startServer, stays, tab, until } from './harness.mjs';

describe('two users collaborate live', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let A; // { context, page, errors } for alice
  let B; // for bob
  let sessionId;
  const mission = () => rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/mission`);

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

  it('1. share live, chat both ways with roles, presence and typing', async () => {
    await A.page.goto('/');
    await A.page.getByText('Mode: demo login').waitFor();
    // The user-name pattern is a valid regular expression for the browser (it validates).
    await A.page.getByLabel('User name').fill('not valid!');
    assert.equal(await A.page.getByLabel('User name').evaluate((el) => el.checkValidity()), false);
    await screenshot(A.page, 'sign-in');
    await signIn(A.page, 'alice');
    await signIn(B.page, 'bob');

    // Alice creates a session (the app opens it) and shares it with Bob.
    await A.page.getByLabel('New session name').fill('Trip to Lisbon');
    await A.page.getByRole('button', { name: 'Create' }).click();
    await A.page.waitForURL(/#\/sessions\//);
    sessionId = A.page.url().split('#/sessions/')[1];
    await A.page.locator('.session-title', { hasText: 'Trip to Lisbon' }).waitFor();
    await tab(A.page, 'Sharing');
    await A.page.getByLabel('User id').fill('bob');
    await A.page.getByLabel('Role', { exact: true }).selectOption('editor');
    // The user-id pattern is valid for the browser too: it refuses a "/".
    await A.page.getByLabel('User id').fill('a/b');
    assert.equal(await A.page.getByLabel('User id').evaluate((el) => el.checkValidity()), false);
    await A.page.getByLabel('User id').fill('bob');
    await A.page.getByRole('button', { name: 'Share' }).click();
    await A.page.locator('[data-testid=collaborators] li[data-user=bob]:not(.pending)').waitFor();

    // Bob's list shows it without a reload; his own new session shows up live too.
    const link = B.page.locator(`[data-session="${sessionId}"] a`);
    await link.waitFor();
    await rest(server.url, 'bob', 'POST', '/api/sessions', { name: 'Weekly review' });
    await B.page.locator('[data-testid=session-list] li', { hasText: 'Weekly review' }).waitFor();
    await B.page.getByLabel('Search by name').fill('lisbon');
    await until(async () => (await B.page.locator('[data-testid=session-list] li').count()) === 1, 'search to filter');
    await B.page.getByLabel('Search by name').fill('');
    await B.page.getByLabel('Status').selectOption('archived');
    await B.page.locator('[data-testid=session-list] li.empty').waitFor();
    await B.page.getByLabel('Status').selectOption('all');
    await link.click();
    await B.page.locator('.session-title', { hasText: 'Trip to Lisbon' }).waitFor();

    // Presence both ways.
    await A.page.locator('[data-testid=presence] [data-user=bob]').waitFor();
    await B.page.locator('[data-testid=presence] [data-user=alice]').waitFor();

    // Typing indicator both ways.
    await A.page.getByLabel(/^Message/).pressSequentially('Hel');
    await B.page.locator('[data-testid=typing]', { hasText: 'alice is typing' }).waitFor();
    await A.page.getByLabel(/^Message/).fill('Hello Bob');
    await A.page.getByLabel(/^Message/).press('Enter');
    await B.page.locator('[data-testid=messages] .content', { hasText: 'Hello Bob' }).waitFor();
    await B.page.getByLabel(/^Message/).pressSequentially('Hi');
    await A.page.locator('[data-testid=typing]', { hasText: 'bob is typing' }).waitFor();
    await B.page.getByLabel(/^Message/).fill('Hi Alice');
    await B.page.getByRole('button', { name: 'Send' }).click();
    await A.page.locator('[data-testid=messages] .content', { hasText: 'Hi Alice' }).waitFor();
    // Sending stops the typing indicator.
    await A.page.locator('[data-testid=typing]', { hasText: /^$/ }).waitFor();

    // Messages carry their role: an assistant and a tool message look like what they are.
    await rest(server.url, 'alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'Searching flights…', role: 'assistant' });
    await A.page.getByLabel('As', { exact: true }).selectOption('tool');
    await A.page.getByLabel(/^Message/).fill('{"results": 3}');
    await A.page.getByLabel(/^Message/).press('Enter');
    await B.page.locator('[data-testid=messages] li[data-role=assistant]', { hasText: 'Searching flights' }).locator('.role-tag', { hasText: 'assistant' }).waitFor();
    await B.page.locator('[data-testid=messages] li[data-role=tool]', { hasText: '"results": 3' }).waitFor();
    await A.page.getByLabel('As', { exact: true }).selectOption('user');

    // A mission with a hop and a tool step, built through the UI.
    await tab(A.page, 'Mission');
    await A.page.getByLabel('Mission title').fill('Plan the trip');
    await A.page.getByRole('button', { name: 'Create mission' }).click();
    await A.page.getByLabel('New hop name').fill('Flights');
    await A.page.getByLabel('New hop name').press('Enter');
    await A.page.getByLabel('New step in Flights').fill('Search flights');
    await A.page.getByLabel('Tool of the new step (Flights)').fill('web.search');
    await A.page.getByLabel('New step in Flights').press('Enter');
    await B.page.getByLabel('Step name: Search flights').waitFor();
    await B.page.locator('[data-step] code.tool', { hasText: 'web.search' }).waitFor();
    assert.deepEqual(await messageTexts(A.page), await messageTexts(B.page));
    await A.page.getByLabel(/^Message/).pressSequentially('Shall we');
    await B.page.locator('[data-testid=typing]', { hasText: 'alice is typing' }).waitFor();
    await screenshot(B.page, 'session');
    await A.page.getByLabel(/^Message/).fill('');
  });

  it('2. offline B catches up: 5 messages once, in order, and the mission edit', async () => {
    const before = await messageTexts(B.page);
    await B.context.setOffline(true);
    await B.page.locator('[data-testid=connection][data-state=offline]').waitFor();
    for (let i = 1; i <= 5; i++) {
      await A.page.getByLabel(/^Message/).fill(`while you were away ${i}`);
      await A.page.getByLabel(/^Message/).press('Enter');
    }
    await A.page.locator('[data-testid=messages] .content', { hasText: 'while you were away 5' }).waitFor();
    await A.page.getByLabel('Hop name: Flights').fill('Flights to Lisbon');
    await A.page.getByLabel('Hop name: Flights').press('Enter');
    await A.page.getByLabel('Hop name: Flights to Lisbon').waitFor();
    assert.deepEqual(await messageTexts(B.page), before, 'B saw nothing while offline');

    await B.context.setOffline(false);
    await connected(B.page);
    const expected = [...before, ...[1, 2, 3, 4, 5].map((i) => `while you were away ${i}`)];
    await until(async () => (await messageTexts(B.page)).length >= expected.length, 'B to show the missed messages');
    await stays(async () => JSON.stringify(await messageTexts(B.page)) === JSON.stringify(expected), 'each message once, in order');
    await B.page.getByLabel('Hop name: Flights to Lisbon').waitFor();
  });

  it('3. messages written offline are pending, then delivered once', async () => {
    await B.context.setOffline(true);
    await B.page.locator('[data-testid=connection][data-state=offline]').waitFor();
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
    await stays(async () => {
      for (const page of [A.page, B.page]) {
        const texts = await messageTexts(page);
        if (texts.filter((t) => t.startsWith('offline ')).join('|') !== 'offline one|offline two') return false;
      }
      return true;
    }, 'each offline message once, in order, on both sides');
    const onServer = await rest(server.url, 'alice', 'GET', `/api/sessions/${sessionId}/messages?limit=200`);
    assert.equal(onServer.filter((m) => m.content.startsWith('offline ')).length, 2, 'stored once each');
    assert.equal(await B.page.evaluate(() => localStorage.getItem('tandem.outbox.bob')), null);
  });

  it('4. both edit the same step status at once: the loser keeps theirs, both converge', async () => {
    const label = 'Status of step Search flights';
    await Promise.all([A.page.getByLabel(label).selectOption('completed'), B.page.getByLabel(label).selectOption('failed')]);
    const settle = async () => {
      let m;
      await until(async () => {
        m = await mission();
        const want = m.hops[0].steps[0].status;
        const [a, b] = await Promise.all([A.page.getByLabel(label).inputValue(), B.page.getByLabel(label).inputValue()]);
        const [ra, rb] = await Promise.all([A.page.getByTestId('revision').textContent(), B.page.getByTestId('revision').textContent()]);
        return a === want && b === want && ra === `rev ${m.revision}` && rb === ra;
      }, 'both pages to show the server state');
      return m;
    };
    // Wait until both edits are settled: applied, or a conflict shown.
    await until(async () => (await A.page.evaluate(() => (window).__tandem.app.outbox.waiting().length)) === 0, 'A to send');
    await until(async () => (await B.page.evaluate(() => (window).__tandem.app.outbox.waiting().length)) === 0, 'B to send');
    let m = await settle();
    const losers = [];
    for (const [page, mine] of [
      [A.page, 'completed'],
      [B.page, 'failed'],
    ]) {
      if (await page.getByTestId('conflict').isVisible()) losers.push([page, mine]);
    }
    assert.ok(losers.length <= 1, 'at most one side lost the race');
    for (const [page, mine] of losers) {
      assert.match(await page.getByTestId('conflict').textContent(), /conflicted: the step status was changed/);
      // The loser's select shows the winner's value, not its own rejected one.
      assert.equal(await page.getByLabel(label).inputValue(), m.hops[0].steps[0].status);
      await page.getByTestId('conflict-keep').click();
      await until(async () => (await mission()).hops[0].steps[0].status === mine, 'the kept edit');
      m = await settle();
    }
    assert.ok(['completed', 'failed'].includes(m.hops[0].steps[0].status));
  });

  it('5. mission edits made offline show at once as pending and are sent once on reconnect', async () => {
    await B.context.setOffline(true);
    await B.page.locator('[data-testid=connection][data-state=offline]').waitFor();
    await B.page.getByLabel('New hop name').fill('Hotels');
    await B.page.getByLabel('New hop name').press('Enter');
    await B.page.getByLabel('Step name: Search flights').fill('Find flights');
    await B.page.getByLabel('Step name: Search flights').press('Enter');
    await B.page.getByLabel('Status of step Find flights').selectOption('running');
    // Shown at once, marked pending; the typed name stays.
    await B.page.locator('[data-hop].pending', { has: B.page.getByLabel('Hop name: Hotels') }).waitFor();
    await B.page.getByTestId('mission-pending').filter({ hasText: '3 pending' }).waitFor();
    assert.equal(await B.page.getByLabel('New hop name').inputValue(), '');
    assert.equal(await A.page.getByLabel('Hop name: Hotels').count(), 0, 'not sent while offline');
    const revision = (await mission()).revision;

    await B.context.setOffline(false);
    await connected(B.page);
    await B.page.getByTestId('mission-pending').waitFor({ state: 'detached' });
    await A.page.getByLabel('Hop name: Hotels').waitFor();
    await A.page.getByLabel('Step name: Find flights').waitFor();
    const m = await mission();
    assert.deepEqual(m.hops.map((h) => h.name), ['Flights to Lisbon', 'Hotels'], 'the hop added once');
    assert.equal(m.hops[0].steps[0].name, 'Find flights');
    assert.equal(m.hops[0].steps[0].status, 'running');
    assert.equal(m.revision, revision + 3, 'three edits, each applied once');
  });

  it('6. phone-sized screen: tabs, one-line header, no horizontal scrolling', async () => {
    await B.page.setViewportSize({ width: 390, height: 844 });
    await B.page.locator('.session-title').waitFor();
    await tab(B.page, 'Chat');
    await B.page.getByLabel(/^Message/).waitFor();
    await screenshot(B.page, 'phone');
    const signOut = await B.page.getByRole('button', { name: 'Sign out' }).boundingBox();
    assert.ok(signOut.height < 40, `"Sign out" on one line (height ${signOut.height}px)`);
    await tab(B.page, 'Mission');
    await B.page.getByLabel('Step name: Find flights').waitFor();
    assert.equal(await B.page.getByLabel(/^Message/).isVisible(), false, 'one part at a time');
    const step = await B.page.getByLabel('Step name: Find flights').boundingBox();
    assert.ok(step.width >= 120, `step names have room (${step.width}px)`);
    await screenshot(B.page, 'phone-mission');
    const overflow = await B.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await B.page.setViewportSize({ width: 1000, height: 720 });
    assert.deepEqual(
      [...A.errors, ...B.errors].filter((e) => /pattern|pageerror/i.test(e)),
      [],
      'no invalid pattern attributes, no script errors',
    );
  });
});
