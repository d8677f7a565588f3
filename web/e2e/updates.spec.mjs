// Live updates: a change made elsewhere (another page, another tab, the
// API, a CloudEvent posted by hand) shows in every open page of its owner
// without a reload, through the second Trigger and task-stream. Against the
// whole local stack, in Chromium.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test, expect, addTask, taskItem, stackInfo, snapshot } from './fixtures.mjs';
import { expectAccessible } from './axe.mjs';
import { account, accessToken, signInThroughThePage } from './sign-in.mjs';

test.describe.configure({ mode: 'serial' });

const stackBin = resolve(import.meta.dirname, '../../target/debug/stack');

/** Acts on one service of the running stack (kill, start...). */
function service(name, action) {
  const stateDir = dirname(process.env.E2E_STACK_JSON);
  execFileSync(stackBin, ['--state-dir', stateDir, 'service', name, action], { stdio: 'pipe' });
}

const live = (page) => page.locator('#live-status');

/** A page of the app in `context`, once its live updates are on. */
async function livePage(context) {
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByText('Signed in as')).toBeVisible();
  await expect(live(page)).toHaveText('Live', { timeout: 10_000 });
  return page;
}

/** What the page's list shows of the task titled `title`: absent, or its status. */
function shown(page, title) {
  return page.evaluate((title) => {
    const item = [...document.querySelectorAll('li.task')]
      .find((li) => li.querySelector('button.title')?.textContent.trim() === title);
    if (!item) return 'absent';
    return ['pending', 'in_progress', 'complete'].find((s) => item.classList.contains(s)) ?? 'listed';
  }, title);
}

/** Waits (checking every frame) until `page` shows `title` as `state`; ms taken since `since`. */
async function until(page, title, state, since) {
  try {
    await page.waitForFunction(({ title, state }) => {
      const item = [...document.querySelectorAll('li.task')]
        .find((li) => li.querySelector('button.title')?.textContent.trim() === title);
      if (state === 'absent') return !item;
      return item && (state === 'listed' || item.classList.contains(state));
    }, { title, state }, { polling: 'raf', timeout: 5_000 });
  } catch (error) {
    throw new Error(`“${title}” did not become ${state} within 5 s: it shows ${await shown(page, title)}`, { cause: error });
  }
  return Date.now() - since;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Posts a task event by hand to the broker's ingress, as a tester does. */
async function postToBroker(request, { id, type, task, version, title }) {
  const data = { ...task, title, version };
  if (type === 'task.updated') data.changes = { title: { old: task.title, new: title } };
  const response = await request.post(stackInfo().broker_url, {
    headers: {
      'ce-specversion': '1.0', 'ce-id': id, 'ce-type': type, 'ce-source': '/tests/e2e',
      'ce-subject': String(task.id), 'ce-partitionkey': String(task.id),
      'content-type': 'application/json',
    },
    data: JSON.stringify(data),
  });
  expect(response.status()).toBeLessThan(300);
}

let alicePages;
let bobPage;
const created = [];

test.beforeAll(async ({ browser, baseURL }) => {
  const a = await browser.newContext({ baseURL, storageState: process.env.E2E_STORAGE_STATE });
  const b = await browser.newContext({ baseURL, storageState: process.env.E2E_STORAGE_STATE });
  alicePages = [await livePage(a), await livePage(b)];
  const bob = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  bobPage = await bob.newPage();
  await bobPage.goto('/');
  await signInThroughThePage(bobPage, 'bob', stackInfo());
  await expect(live(bobPage)).toHaveText('Live', { timeout: 10_000 });
});

test.afterAll(async () => {
  for (const page of [...alicePages, bobPage]) await page.context().close();
});

test('a change in one page shows in the other, and never in bob’s', async () => {
  const [one, other] = alicePages;
  await addTask(one, 'Made in one page');
  expect(await until(other, 'Made in one page', 'listed', Date.now())).toBeLessThan(5_000);
  await taskItem(one, 'Made in one page').getByRole('button', { name: 'Edit title: Made in one page' }).click();
  await one.locator('.edit-title').fill('Renamed in one page');
  await one.locator('.edit-title').press('Enter');
  await until(other, 'Renamed in one page', 'listed', Date.now());
  await taskItem(one, 'Renamed in one page').getByRole('button', { name: 'Complete' }).click();
  await until(other, 'Renamed in one page', 'complete', Date.now());
  await expect(other.locator('#live-announcer')).toContainText('Renamed in one page');
  await snapshot(other, 'live-update');
  await expectAccessible(other, 'a live update shown');
  await taskItem(one, 'Renamed in one page').getByRole('button', { name: 'Delete' }).click();
  await taskItem(one, 'Renamed in one page').getByRole('group', { name: 'Confirm deletion' })
    .getByRole('button', { name: 'Delete' }).click();
  await until(other, 'Renamed in one page', 'absent', Date.now());
  await expect(bobPage.locator('li.task')).toHaveCount(0);
});

test('50 changes through the API each show in both pages, and none in bob’s', async ({ api }) => {
  test.setTimeout(120_000);
  const latencies = [];
  for (let round = 0; round < 10; round++) {
    const title = `Live ${round}`;
    let since = Date.now();
    const task = await (await api.post('/api/tasks', { data: { title } })).json();
    latencies.push(...await Promise.all(alicePages.map((page) => until(page, title, 'listed', since))));
    for (const [change, state] of [
      [{ title: `${title} renamed` }, 'listed'],
      [{ status: 'complete' }, 'complete'],
      [{ status: 'in_progress' }, 'in_progress'],
    ]) {
      since = Date.now();
      const response = await api.put(`/api/tasks/${task.id}`, { data: change });
      expect(response.status()).toBe(200);
      latencies.push(...await Promise.all(alicePages.map((page) => until(page, `${title} renamed`, state, since))));
    }
    since = Date.now();
    expect((await api.delete(`/api/tasks/${task.id}`)).status()).toBe(204);
    latencies.push(...await Promise.all(alicePages.map((page) => until(page, `${title} renamed`, 'absent', since))));
  }
  const figures = {
    changes: latencies.length / alicePages.length,
    pages: alicePages.length,
    p50_ms: percentile(latencies, 50),
    p95_ms: percentile(latencies, 95),
    max_ms: Math.max(...latencies),
  };
  console.log(`live updates, API change to shown in another page: ${JSON.stringify(figures)}`);
  mkdirSync(resolve(import.meta.dirname, '../../target/e2e'), { recursive: true });
  writeFileSync(resolve(import.meta.dirname, '../../target/e2e/live-latency.json'), JSON.stringify(figures, null, 2));
  expect(figures.changes).toBe(50);
  await expect(bobPage.locator('li.task')).toHaveCount(0);
});

test('a change made 100 ms after the page loads still shows', async ({ browser, baseURL, api }) => {
  const context = await browser.newContext({ baseURL, storageState: process.env.E2E_STORAGE_STATE });
  const page = await context.newPage();
  await page.goto('/');
  await page.waitForTimeout(100);
  const task = await (await api.post('/api/tasks', { data: { title: 'Right after the load' } })).json();
  created.push(task.id);
  await until(page, 'Right after the load', 'listed', Date.now());
  await expect(live(page)).toHaveText('Live');
  await context.close();
});

test('typing in the form is not disturbed by a change from elsewhere', async ({ api }) => {
  const [page] = alicePages;
  const title = page.getByLabel('Title', { exact: true });
  await title.fill('Half-typed');
  await title.focus();
  const task = await (await api.post('/api/tasks', { data: { title: 'Arrives while typing' } })).json();
  created.push(task.id);
  await until(page, 'Arrives while typing', 'listed', Date.now());
  await expect(title).toHaveValue('Half-typed');
  await expect(title).toBeFocused();
  await title.fill('');
});

test('an event posted by hand shows only what the database holds', async ({ api, request }) => {
  const [, page] = alicePages;
  const task = await (await api.post('/api/tasks', { data: { title: 'The real title' } })).json();
  created.push(task.id);
  await until(page, 'The real title', 'listed', Date.now());
  // A forged change of alice's task, and one of a task she cannot see.
  const refetched = page.waitForRequest((r) => r.url().endsWith(`/api/tasks/${task.id}`));
  await postToBroker(request, { id: `forged-${task.id}`, type: 'task.updated', task, version: 99, title: 'Forged title' });
  await postToBroker(request, {
    id: `forged-other-${task.id}`, type: 'task.created', version: 1, title: 'Not alice’s',
    task: { ...task, id: 999_999, owner: account(stackInfo(), 'alice').sub },
  });
  await refetched;
  await page.waitForTimeout(1_000);
  expect(await shown(page, 'The real title')).toBe('pending');
  await expect(page.getByText('Forged title')).toHaveCount(0);
  await expect(page.getByText('Not alice’s')).toHaveCount(0);
});

test('a duplicate and an out-of-order pair: the newest version shows, once', async ({ api, request }) => {
  const [, page] = alicePages;
  const task = await (await api.post('/api/tasks', { data: { title: 'Version 1' } })).json();
  created.push(task.id);
  await api.put(`/api/tasks/${task.id}`, { data: { title: 'Version 2' } });
  const v3 = await (await api.put(`/api/tasks/${task.id}`, { data: { title: 'Version 3' } })).json();
  await until(page, 'Version 3', 'listed', Date.now());
  let fetches = 0;
  page.on('request', (r) => { if (r.url().endsWith(`/api/tasks/${task.id}`)) fetches += 1; });
  // v3 again (a redelivery), then v2 late: neither is newer than what shows.
  await postToBroker(request, { id: `dup-${task.id}`, type: 'task.updated', task: v3, version: 3, title: 'Version 3' });
  await postToBroker(request, { id: `late-${task.id}`, type: 'task.updated', task: v3, version: 2, title: 'Version 2' });
  await page.waitForTimeout(1_500);
  expect(fetches).toBe(0);
  await expect(taskItem(page, 'Version 3')).toHaveCount(1);
  await expect(taskItem(page, 'Version 2')).toHaveCount(0);
});

test('task-stream killed while changes keep coming: every page ends with the final state, no reload', async ({ api }) => {
  test.setTimeout(90_000);
  for (const page of alicePages) await page.evaluate(() => { window.notReloaded = true; });
  const before = await (await api.post('/api/tasks', { data: { title: 'Before the kill' } })).json();
  created.push(before.id);
  for (const page of alicePages) await until(page, 'Before the kill', 'listed', Date.now());

  service('task-stream', 'kill');
  for (const page of alicePages) await expect(live(page)).toHaveText('Not live: reconnecting…', { timeout: 10_000 });
  const during = await (await api.post('/api/tasks', { data: { title: 'Made while it was down' } })).json();
  created.push(during.id);
  await api.put(`/api/tasks/${before.id}`, { data: { status: 'complete' } });
  const doomed = created.shift();
  await api.delete(`/api/tasks/${doomed}`);
  service('task-stream', 'start');

  for (const page of alicePages) {
    await expect(live(page)).toHaveText('Live', { timeout: 20_000 });
    await until(page, 'Made while it was down', 'listed', Date.now());
    await until(page, 'Before the kill', 'complete', Date.now());
    await expect(page.locator(`li.task[data-task-id="${doomed}"]`)).toHaveCount(0);
    expect(await page.evaluate(() => window.notReloaded)).toBe(true);
  }
  // Changes after the restart show as before.
  const after = await (await api.post('/api/tasks', { data: { title: 'After the restart' } })).json();
  created.push(after.id);
  for (const page of alicePages) await until(page, 'After the restart', 'listed', Date.now());
});

test('the edge router restarted: the pages resume where they were, missing nothing', async () => {
  test.setTimeout(90_000);
  // The token first: signing in goes through the gateway.
  const token = accessToken(stackInfo(), 'alice');
  // Stopped as a platform stops it (gracefully: its streams are closed
  // after worker_shutdown_timeout).
  service('gateway', 'stop');
  for (const page of alicePages) await expect(live(page)).toHaveText('Not live: reconnecting…', { timeout: 20_000 });
  // The API answers through the functions themselves meanwhile.
  const response = await fetch(`${stackInfo().functions['create-task']}/api/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Made while the gateway was down' }),
  });
  service('gateway', 'start');
  expect(response.status).toBe(201);
  created.push((await response.json()).id);
  for (const page of alicePages) {
    await expect(live(page)).toHaveText('Live', { timeout: 30_000 });
    await until(page, 'Made while the gateway was down', 'listed', Date.now());
  }
});

test('seven tabs of one browser all stay live, and the seventh still calls the API', async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ baseURL, storageState: process.env.E2E_STORAGE_STATE });
  let streams = 0;
  context.on('request', (r) => { if (r.url().includes('/api/task-events')) streams += 1; });
  const tabs = [];
  for (let i = 0; i < 7; i++) tabs.push(await livePage(context));
  // One stream for the whole browser: six connections per origin are enough.
  expect(streams).toBe(1);
  await addTask(tabs[6], 'From the seventh tab');
  for (const tab of tabs) await until(tab, 'From the seventh tab', 'listed', Date.now());
  // The tab holding the stream closes: another takes it over.
  await tabs[0].close();
  await tabs[1].getByLabel('Title', { exact: true }).fill('After the first tab closed');
  await tabs[1].getByRole('button', { name: 'Add task' }).click();
  for (const tab of tabs.slice(2)) {
    await until(tab, 'After the first tab closed', 'listed', Date.now());
    await expect(live(tab)).toHaveText('Live');
  }
  await context.close();
});
