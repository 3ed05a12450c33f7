// The whole workspace with two (and three) people in separate browser
// contexts against the real server (dev mode), each change seen live on the
// other side: the mission (goal, tools, inputs, outputs, reorder, delete, hop
// roll-up, who is editing), assets (text and links, scoped to the session,
// the mission or a hop; delete), the activity panel (in words, paged back),
// the live list (counts, last activity, unread), controls that follow role
// and status, export → import, fork and delete.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connected, launchBrowser, newPage, rest, screenshot, signIn, startServer, stays, tab, until } from './harness.mjs';

describe('the workspace, live on both sides', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let A; // alice, owner
  let B; // bob, editor
  let sessionId;
  const api = (user, method, path, body) => rest(server.url, user, method, path, body);
  const mission = () => api('alice', 'GET', `/api/sessions/${sessionId}/mission`);
  const open = async (page) => {
    await page.goto(`/#/sessions/${sessionId}`);
    await connected(page);
    await page.locator('.session-title', { hasText: 'Lisbon workspace' }).waitFor();
  };
  const activity = (page) => page.getByTestId('activity');

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    A = await newPage(browser, server.url);
    B = await newPage(browser, server.url);
    const s = await api('alice', 'POST', '/api/sessions', { name: 'Lisbon workspace', collaborators: [{ user_id: 'bob', role: 'editor' }] });
    sessionId = s.id;
    const m = await api('alice', 'POST', '/api/missions', {
      title: 'Plan the trip',
      hops: [
        {
          id: 'h1',
          name: 'Flights',
          steps: [
            { id: 's1', name: 'Search', tool: 'web.search' },
            { id: 's2', name: 'Book', tool: 'booking' },
            { id: 's3', name: 'Check in', tool: 'airline' },
          ],
        },
        { id: 'h2', name: 'Hotels', steps: [] },
      ],
    });
    await api('alice', 'POST', `/api/sessions/${sessionId}/link-mission/${m.id}`);
    await signIn(A.page, 'alice');
    await signIn(B.page, 'bob');
    await open(A.page);
    await open(B.page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('1. mission: goal, tool, inputs and outputs, reorder, delete, hop status from its steps', async () => {
    await A.page.getByLabel('Mission goal').fill('Be in Lisbon by Friday');
    await A.page.getByLabel('Mission goal').press('Tab');
    await until(async () => (await B.page.getByLabel('Mission goal').inputValue()) === 'Be in Lisbon by Friday', 'B to see the goal');

    const search = A.page.locator('[data-step=s1]');
    await search.locator('summary').click();
    await search.getByLabel('Tool of step Search').fill('flights.search');
    await search.getByLabel('Tool of step Search').press('Enter');
    await search.getByLabel('Inputs of step Search').fill('{"from": "BER", "to": "LIS"}');
    await search.getByLabel('Outputs of step Search').click();
    await search.getByLabel('Outputs of step Search').fill('{not json');
    await search.getByLabel('Inputs of step Search').click();
    await search.locator('.error', { hasText: 'not valid JSON' }).waitFor();
    await search.getByLabel('Outputs of step Search').fill('{"best": "TP 563"}');
    await search.getByLabel('Inputs of step Search').click();
    await until(async () => {
      const s = (await mission()).hops[0].steps[0];
      return s.tool === 'flights.search' && s.inputs?.to === 'LIS' && s.outputs?.best === 'TP 563';
    }, 'the tool, inputs and outputs on the server');
    const bSearch = B.page.locator('[data-step=s1]');
    await bSearch.locator('code.tool', { hasText: 'flights.search' }).waitFor();
    await bSearch.locator('summary').click();
    await until(async () => (await bSearch.getByLabel('Inputs of step Search').inputValue()).includes('"BER"'), 'B to see the inputs');
    await screenshot(B.page, 'mission');

    // Reorder and delete, by id.
    await A.page.getByRole('button', { name: 'Move hop Hotels up' }).click();
    await A.page.getByRole('button', { name: 'Move step Check in up' }).click();
    await A.page.getByRole('button', { name: 'Delete step Book' }).click();
    const order = async (page) =>
      page.evaluate(() => [...document.querySelectorAll('[data-hop]')].map((h) => `${h.dataset.hop}:${[...h.querySelectorAll('[data-step]')].map((s) => s.dataset.step).join(',')}`));
    await until(async () => JSON.stringify(await order(B.page)) === JSON.stringify(['h2:', 'h1:s1,s3']), 'B to see the new order');
    assert.deepEqual((await mission()).hops.map((h) => [h.id, h.steps.map((s) => s.id)]), [['h2', []], ['h1', ['s1', 's3']]]);

    // A hop's status comes from its steps (its own select is off).
    assert.equal(await A.page.getByLabel('Status of hop Flights').isDisabled(), true);
    await A.page.getByLabel('Status of step Search').selectOption('completed');
    await until(async () => (await B.page.getByLabel('Status of hop Flights').inputValue()) === 'running', 'B: Flights running');
    await B.page.getByLabel('Status of step Check in').selectOption('skipped');
    await until(async () => (await A.page.getByLabel('Status of hop Flights').inputValue()) === 'completed', 'A: Flights completed');
    // A hop without steps keeps its own status.
    await B.page.getByLabel('Status of hop Hotels').selectOption('running');
    await until(async () => (await A.page.getByLabel('Status of hop Hotels').inputValue()) === 'running', 'A: Hotels running');

    // Every change is a line in the activity, in words.
    await tab(B.page, 'Activity');
    for (const line of [
      'alice set the goal to "Be in Lisbon by Friday"',
      'alice set the tool of step "Search" to "flights.search"',
      'alice changed the inputs of step "Search"',
      'alice moved hop "Hotels" to position 1',
      'alice deleted step "Book"',
      'bob set step "Check in" to skipped',
      'bob set hop "Hotels" to running',
    ]) {
      await activity(B.page).locator('li', { hasText: line }).first().waitFor();
    }
    await screenshot(B.page, 'activity');
    await tab(B.page, 'Mission');
  });

  it('1b. the server rolls hop statuses up too', async () => {
    const m = await mission();
    assert.equal(m.hops.find((h) => h.id === 'h1').status, 'completed');
  });

  it('2. who is editing which field', async () => {
    await A.page.getByLabel('Hop name: Flights').click();
    const marker = B.page.locator('[data-path="/hops/1/name"] .editing-marker', { hasText: 'alice is editing' });
    await marker.waitFor();
    await A.page.getByLabel('Mission goal').click();
    await B.page.locator('[data-path="/goal"] .editing-marker', { hasText: 'alice is editing' }).waitFor();
    await marker.waitFor({ state: 'hidden' });
    await A.page.getByLabel('Mission goal').blur();
    await B.page.locator('.editing-marker', { hasText: 'alice' }).first().waitFor({ state: 'hidden' });
  });

  it('3. assets: text and links, scoped to the session, the mission or a hop', async () => {
    await tab(A.page, 'Assets');
    await tab(B.page, 'Assets');
    const addAsset = async (page, { name, text, uri, type, scope }) => {
      await page.getByLabel('Asset name').fill(name);
      await page.getByLabel('Kind').selectOption(uri ? 'uri' : 'text');
      if (uri) await page.getByLabel('URI').fill(uri);
      else await page.getByLabel('Text content').fill(text);
      await page.getByLabel('Media type').fill(type);
      await page.getByLabel('Attach to').selectOption({ label: scope });
      await page.getByRole('button', { name: 'Add asset' }).click();
    };
    await addAsset(A.page, { name: 'seats.txt', text: 'Window seats, please.', type: 'text/plain', scope: 'Hop: Flights' });
    const pixel = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    await addAsset(A.page, { name: 'map.png', uri: pixel, type: 'image/png', scope: 'The mission' });
    await addAsset(A.page, { name: 'notes.md', text: '# Notes', type: 'text/markdown', scope: 'The session' });
    const group = (page, label) => page.locator('.asset-group', { has: page.locator('h4', { hasText: label }) });
    await group(B.page, 'Hop: Flights').locator('[data-name="seats.txt"]').waitFor();
    await group(B.page, 'Mission').locator('[data-name="map.png"]').waitFor();
    await group(B.page, 'Session').locator('[data-name="notes.md"]', { hasText: 'text/markdown' }).waitFor();
    await group(B.page, 'Mission').getByText('map.png').click();
    await group(B.page, 'Mission').locator('img[alt="map.png"]').waitFor();
    const assets = await api('bob', 'GET', `/api/sessions/${sessionId}/assets`);
    assert.deepEqual(
      assets.map((a) => [a.name, a.scope]),
      [
        ['seats.txt', { kind: 'hop', hop_id: 'h1' }],
        ['map.png', { kind: 'mission' }],
        ['notes.md', { kind: 'session' }],
      ],
    );
    // A bad media type is caught before sending.
    await A.page.getByLabel('Asset name').fill('bad');
    await A.page.getByLabel('Text content').fill('x');
    await A.page.getByLabel('Media type').fill('text');
    await A.page.getByRole('button', { name: 'Add asset' }).click();
    await A.page.getByText('The media type must look like type/subtype').waitFor();
    await A.page.getByLabel('Media type').fill('text/plain');
    await A.page.getByLabel('Asset name').fill('');
  });

  it('3b. delete an asset', async () => {
    await A.page.reload();
    await connected(A.page);
    await tab(A.page, 'Assets');
    await A.page.getByRole('button', { name: 'Delete asset notes.md' }).click();
    await B.page.locator('[data-name="notes.md"]').waitFor({ state: 'detached' });
    const assets = await api('bob', 'GET', `/api/sessions/${sessionId}/assets`);
    assert.deepEqual(assets.map((a) => a.name), ['seats.txt', 'map.png']);
    await tab(B.page, 'Activity');
    await activity(B.page).locator('li', { hasText: 'alice deleted asset "notes.md"' }).waitFor();
  });

  it('4. the activity pages back through the events; fork from any line', async () => {
    for (let i = 1; i <= 55; i++) await api('alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: `note ${i}` });
    await B.page.reload();
    await connected(B.page);
    await tab(B.page, 'Activity');
    // The newest page is all messages, which the panel hides by default.
    await B.page.getByTestId('activity-earlier').waitFor();
    assert.equal(await activity(B.page).locator('li', { hasText: 'deleted step "Book"' }).count(), 0);
    await B.page.getByTestId('activity-earlier').click();
    await activity(B.page).locator('li', { hasText: 'alice deleted step "Book"' }).waitFor();
    await activity(B.page).locator('li', { hasText: 'alice created the session "Lisbon workspace"' }).waitFor();
    await B.page.getByTestId('activity-earlier').waitFor({ state: 'detached' });
    await B.page.getByLabel('Include messages').check();
    await activity(B.page).locator('li', { hasText: 'alice wrote: "note 55"' }).waitFor();
    // Fork right after the goal was set: the fork has the goal, not the later edits.
    const line = activity(B.page).locator('li', { hasText: 'set the goal to' });
    const offset = Number(await line.getAttribute('data-offset'));
    await line.getByRole('button', { name: 'Fork from here' }).click();
    await B.page.locator('.session-title', { hasText: 'Lisbon workspace (fork)' }).waitFor();
    const forkId = B.page.url().split('#/sessions/')[1];
    assert.notEqual(forkId, sessionId);
    const fork = await api('bob', 'GET', `/api/sessions/${forkId}`);
    assert.equal(fork.session.owner, 'bob');
    assert.equal(fork.mission.goal, 'Be in Lisbon by Friday');
    assert.deepEqual(fork.mission.hops.map((h) => h.id), ['h1', 'h2'], `as it was at event ${offset}`);
    await open(B.page);
  });

  it('5. controls follow role and status', async () => {
    const C = await newPage(browser, server.url);
    await api('alice', 'PUT', `/api/sessions/${sessionId}/collaborators/carol`, { role: 'viewer' });
    await signIn(C.page, 'carol');
    await C.page.goto(`/#/sessions/${sessionId}`);
    await C.page.locator('.session-title', { hasText: 'Lisbon workspace' }).waitFor();
    // A viewer reads: nothing to write with, and the reason is said.
    await C.page.getByTestId('write-note').filter({ hasText: 'viewer' }).waitFor();
    assert.equal(await C.page.getByLabel(/^Message/).isDisabled(), true);
    assert.equal(await C.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    assert.equal(await C.page.getByLabel('Mission goal').isDisabled(), true);
    assert.equal(await C.page.getByLabel('New hop name').count(), 0);
    assert.equal(await C.page.locator('[data-action=complete], [data-action=archive]').count(), 0);
    await tab(C.page, 'Assets');
    assert.equal(await C.page.getByRole('button', { name: 'Add asset' }).isVisible(), false);
    await tab(C.page, 'Sharing');
    await C.page.getByText('Only the owner changes who has access.').waitFor();

    // Completed: still writable, with a word; back to active only through archive then restore.
    await A.page.locator('[data-action=complete]').click();
    await B.page.getByTestId('status').filter({ hasText: 'completed' }).waitFor();
    await B.page.getByTestId('write-note').filter({ hasText: 'completed' }).waitFor();
    await B.page.getByTestId('lifecycle-hint').filter({ hasText: 'archive it, then restore it' }).waitFor();
    assert.deepEqual(await B.page.locator('.session-head [data-action]:not([data-action=export]):not([data-action=fork])').evaluateAll((bs) => bs.map((b) => b.dataset.action)), ['archive']);
    assert.equal(await B.page.getByRole('button', { name: 'Send' }).isDisabled(), false);

    // Archived: read-only for everyone until restored; Send is off too.
    await B.page.locator('[data-action=archive]').click();
    await A.page.getByTestId('status').filter({ hasText: 'archived' }).waitFor();
    await A.page.getByTestId('write-note').filter({ hasText: 'archived' }).waitFor();
    assert.equal(await A.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    assert.equal(await A.page.getByLabel(/^Message/).isDisabled(), true);
    await tab(A.page, 'Sharing');
    await A.page.getByText('Restore the session to change who has access.').waitFor();
    await C.page.getByTestId('status').filter({ hasText: 'archived' }).waitFor();
    await screenshot(A.page, 'archived');
    await B.page.locator('[data-action=restore]').click();
    await A.page.getByTestId('status').filter({ hasText: 'active' }).waitFor();
    assert.equal(await A.page.getByRole('button', { name: 'Send' }).isDisabled(), false);
    await tab(A.page, 'Mission');
    await C.context.close();
  });

  it('6. export, then import as another user; fork; delete', async () => {
    const [download] = await Promise.all([A.page.waitForEvent('download'), A.page.locator('[data-action=export]').click()]);
    assert.match(download.suggestedFilename(), /^lisbon-workspace-\d{4}-\d\d-\d\d\.tandem\.json$/);
    const file = await download.path();
    const doc = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(doc.format, 'tandem.session/1');

    await B.page.goto('/');
    await B.page.getByTestId('import-file').setInputFiles(file);
    await B.page.locator('.session-title', { hasText: 'Lisbon workspace' }).waitFor();
    const importedId = B.page.url().split('#/sessions/')[1];
    assert.notEqual(importedId, sessionId);
    assert.equal((await api('bob', 'GET', `/api/sessions/${importedId}`)).session.owner, 'bob');
    await B.page.locator('[data-testid=messages] .content', { hasText: 'note 55' }).waitFor();

    await A.page.locator('[data-action=fork]').click();
    await A.page.locator('.session-title', { hasText: 'Lisbon workspace (fork)' }).waitFor();
    const forkId = A.page.url().split('#/sessions/')[1];
    await A.page.locator('[data-action=delete]').click();
    await A.page.getByText('Delete for good? Export first').waitFor();
    await A.page.locator('[data-action=delete-confirm]').click();
    await A.page.getByTestId('flash').filter({ hasText: 'Deleted "Lisbon workspace (fork)" for good.' }).waitFor();
    await assert.rejects(api('alice', 'GET', `/api/sessions/${forkId}`), /404/);

    // Offline, what needs the server is off, with the reason.
    await open(A.page);
    await A.context.setOffline(true);
    await A.page.locator('[data-testid=connection][data-state=offline]').waitFor();
    for (const action of ['export', 'fork', 'delete']) assert.equal(await A.page.locator(`[data-action=${action}]`).isDisabled(), true, action);
    await A.page.getByTestId('online-note').filter({ hasText: 'offline' }).waitFor();
    await A.context.setOffline(false);
    await connected(A.page);
    await until(async () => !(await A.page.locator('[data-action=export]').isDisabled()), 'export back on');
  });

  it('6b. imported messages and events carry their origin', async () => {
    const list = await api('bob', 'GET', '/api/sessions');
    const imported = list.items.find((s) => s.owner === 'bob' && s.name === 'Lisbon workspace');
    const messages = await api('bob', 'GET', `/api/sessions/${imported.id}/messages?limit=1`);
    assert.ok(messages[0]?.imported, 'imported messages are marked');
    await B.page.goto(`/#/sessions/${imported.id}`);
    await B.page.locator('[data-testid=messages] li', { hasText: 'note 55' }).getByTestId('imported').filter({ hasText: 'imported — originally by alice' }).waitFor();
    await tab(B.page, 'Activity');
    await activity(B.page).locator('li', { hasText: 'imported — originally by alice' }).first().waitFor();
  });

  it('7. the list: counts, last activity and unread markers, fetched again when shown', async () => {
    await B.page.goto('/');
    const row = B.page.locator(`[data-session="${sessionId}"]`);
    await row.waitFor();
    const before = Number((await row.getByTestId('count').textContent()).split(' ')[0]);
    await row.getByTestId('unread').waitFor({ state: 'detached' });
    await api('alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'one more' });
    await api('alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'and another' });
    // The list is fetched again whenever it is shown (and when the personal feed resubscribes).
    await B.page.reload();
    await connected(B.page);
    await row.getByTestId('count').filter({ hasText: `${before + 2} messages` }).waitFor();
    await row.getByTestId('unread').filter({ hasText: '2 new' }).waitFor();
    await row.getByText('active just now').waitFor();
    await screenshot(B.page, 'session-list');
  });

  it('7b. the list stays live without a reload', async () => {
    const row = B.page.locator(`[data-session="${sessionId}"]`);
    const count = async () => Number((await row.getByTestId('count').textContent()).split(' ')[0]);
    const before = await count();
    await api('alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'live one' });
    await api('alice', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'live two' });
    await until(async () => (await count()) === before + 2, 'the count to follow live');
    await row.getByTestId('unread').filter({ hasText: /new/ }).waitFor();
    await B.page.locator('[data-testid=session-list] li').first().and(row).waitFor();
  });

  it('8. a fresh load asks the server for its mode without errors', async () => {
    const D = await newPage(browser, server.url);
    await D.page.goto('/');
    await D.page.getByText('Mode: demo login').waitFor();
    await stays(async () => D.errors.length === 0, 'no console errors on load');
    await D.context.close();
  });

  it('every page stayed free of script errors', () => {
    assert.deepEqual([...A.errors, ...B.errors].filter((e) => /pageerror|pattern/i.test(e)), []);
  });
});
