// What a person does with the app, in a real browser against the real stack.
import { test, expect, snapshot, addTask, taskItem } from './fixtures.mjs';
import { expectAccessible } from './axe.mjs';

test.describe.configure({ mode: 'serial' });

const counts = (page, label) => page.getByRole('button', { name: new RegExp(`^${label}\\s*\\d+`) });

test('an empty list says what to do', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByText('No tasks yet. Add your first one with the form above.')).toBeVisible();
  await expect(counts(page, 'All')).toContainText('0');
});

test('creates tasks, newest first, with counts', async ({ page }) => {
  await page.goto('/');
  await addTask(page, 'Buy oat milk', '2 litres, the barista kind');
  await addTask(page, 'Book train tickets');
  await addTask(page, 'Water the plants', 'Balcony first');
  const titles = page.locator('li.task button.title');
  await expect(titles).toHaveText(['Water the plants', 'Book train tickets', 'Buy oat milk']);
  await expect(counts(page, 'All')).toContainText('3');
  await expect(counts(page, 'Pending')).toContainText('3');
  await expect(page.getByText('Added “Water the plants”.')).toBeVisible();
  await expect(taskItem(page, 'Buy oat milk').locator('.meta')).toContainText('Created just now');
  await snapshot(page, 'list');
});

test('shows validation errors before and from the API', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Title', { exact: true }).fill('   ');
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(page.getByText('Title must not be blank.')).toBeVisible();
  await expect(page.getByLabel('Title', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Title', { exact: true })).toBeFocused();

  await page.getByLabel('Title', { exact: true }).fill('Too long a description');
  await page.getByLabel(/^Description/).fill('x'.repeat(10_001));
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(page.getByText('Description must be at most 10000 characters.')).toBeVisible();
  await expect(page.locator('li.task')).toHaveCount(3);
  await snapshot(page, 'validation');
});

test('edits a title in place: Enter saves, Escape cancels, leaving the field saves', async ({ page }) => {
  await page.goto('/');
  await taskItem(page, 'Book train tickets').getByRole('button', { name: 'Edit title: Book train tickets' }).click();
  const editor = page.getByRole('textbox', { name: 'Title', exact: true }).and(page.locator('.edit-title'));
  await expect(editor).toBeFocused();
  await editor.fill('Book night train tickets');
  await snapshot(page, 'edit');
  await editor.press('Enter');
  await expect(taskItem(page, 'Book night train tickets')).toBeVisible();

  await taskItem(page, 'Book night train tickets').getByRole('button', { name: /^Edit title/ }).click();
  await page.locator('.edit-title').fill('Something else');
  await page.locator('.edit-title').press('Escape');
  await expect(taskItem(page, 'Book night train tickets')).toBeVisible();
  await expect(page.getByRole('button', { name: /^Edit title: Book night train tickets/ })).toBeFocused();

  await taskItem(page, 'Buy oat milk').getByRole('button', { name: /^Edit description/ }).click();
  await page.locator('.edit-description').fill('1 litre is enough');
  await page.getByRole('heading', { name: 'Tasks' }).click(); // leave the field
  await expect(taskItem(page, 'Buy oat milk')).toContainText('1 litre is enough');

  await page.reload();
  await expect(taskItem(page, 'Book night train tickets')).toBeVisible();
  await expect(taskItem(page, 'Buy oat milk')).toContainText('1 litre is enough');
});

test('changes status in one click', async ({ page }) => {
  await page.goto('/');
  const item = taskItem(page, 'Water the plants');
  await item.getByRole('button', { name: 'Complete' }).click();
  await expect(item.getByRole('button', { name: 'Complete' })).toHaveAttribute('aria-pressed', 'true');
  await expect(counts(page, 'Complete')).toContainText('1');
  await taskItem(page, 'Buy oat milk').getByRole('button', { name: 'In progress' }).click();
  await expect(counts(page, 'In progress')).toContainText('1');
  await page.reload();
  await expect(taskItem(page, 'Water the plants').getByRole('button', { name: 'Complete' }))
    .toHaveAttribute('aria-pressed', 'true');
});

test('filters by status; the filter lives in the URL', async ({ page }) => {
  await page.goto('/');
  await counts(page, 'Pending').click();
  await expect(page).toHaveURL(/\?status=pending$/);
  await expect(page.locator('li.task button.title')).toHaveText(['Book night train tickets']);
  await page.reload();
  await expect(page.locator('li.task button.title')).toHaveText(['Book night train tickets']);
  await counts(page, 'Complete').click();
  await expect(page.locator('li.task button.title')).toHaveText(['Water the plants']);
  await page.goBack();
  await expect(page).toHaveURL(/\?status=pending$/);
  await expect(page.locator('li.task button.title')).toHaveText(['Book night train tickets']);
  await page.goBack();
  await expect(page.locator('li.task')).toHaveCount(3);
});

test('searches as you type', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('searchbox', { name: 'Search tasks' }).pressSequentially('MI');
  await expect(page.getByText('Type at least 3 characters to search.')).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search tasks' }).pressSequentially('LK');
  await expect(page.getByText('Type at least 3 characters to search.')).toHaveCount(0);
  await expect(page.locator('li.task button.title')).toHaveText(['Buy oat milk']);
  await expect(page).toHaveURL(/q=MILK/);
  await expect(counts(page, 'All')).toContainText('1');
  await page.reload();
  await expect(page.getByRole('searchbox', { name: 'Search tasks' })).toHaveValue('MILK');
  await expect(page.locator('li.task button.title')).toHaveText(['Buy oat milk']);
  await page.getByRole('searchbox', { name: 'Search tasks' }).fill('nothing like this');
  await expect(page.getByText('No tasks match this filter or search.', { exact: false })).toBeVisible();
});

test('shows a task’s history: what changed, old to new', async ({ page, api }) => {
  await page.goto('/');
  const item = taskItem(page, 'Buy oat milk');
  // The audit log is written after the changes were answered (through the
  // broker): wait until it holds all three before the page reads it.
  const id = await item.getAttribute('data-task-id');
  await expect.poll(async () => (await (await api.get(`/api/tasks/${id}/history`)).json()).length,
    { timeout: 30_000 }).toBe(3);
  await item.getByRole('button', { name: 'History' }).click();
  const history = item.getByRole('region', { name: 'History of Buy oat milk' });
  await expect(history.locator('li[data-event-type]')).toHaveCount(3);
  await expect(history).toContainText('Created');
  await expect(history).toContainText('description: “2 litres, the barista kind” → “1 litre is enough”');
  await expect(history).toContainText('status: Pending → In progress');
  await snapshot(page, 'history');
});

test('a long history shows the newest changes and loads older ones on request', async ({ page, api }) => {
  const created = await (await api.post('/api/tasks', { data: { title: 'Often renamed' } })).json();
  for (let n = 1; n <= 24; n++) {
    const renamed = await api.put(`/api/tasks/${created.id}`, { data: { title: `Often renamed ${n}` } });
    expect(renamed.ok()).toBeTruthy();
  }
  await expect.poll(async () => {
    const first = await api.get(`/api/tasks/${created.id}/history?limit=50`);
    return (await first.json()).length;
  }, { timeout: 30_000 }).toBe(25);
  await page.goto('/');
  const item = taskItem(page, 'Often renamed 24');
  await item.getByRole('button', { name: 'History' }).click();
  const history = item.getByRole('region', { name: 'History of Often renamed 24' });
  await expect(history.locator('li[data-event-type]')).toHaveCount(20);
  await expect(history.locator('li[data-event-type]').first()).toContainText('“Often renamed 23” → “Often renamed 24”');
  await history.getByRole('button', { name: 'Show older changes' }).click();
  await expect(history.locator('li[data-event-type]')).toHaveCount(25);
  await expect(history.locator('li[data-event-type]').last()).toContainText('Created');
  await expect(history.getByRole('button', { name: 'Show older changes' })).toHaveCount(0);
  await item.getByRole('button', { name: 'Delete Often renamed 24' }).click();
  await item.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(item).toHaveCount(0);
});

test('a stale edit says so and shows the current version', async ({ page, api }) => {
  // This page is not live (its stream is refused, as while task-stream is
  // down), so the change made elsewhere reaches it only as the edit's 412.
  await page.route('**/api/task-events', (route) => route.abort());
  await page.goto('/');
  const item = taskItem(page, 'Book night train tickets');
  const id = await item.getAttribute('data-task-id');
  // Someone else changes it meanwhile.
  const changed = await api.put(`/api/tasks/${id}`, { data: { title: 'Book the sleeper train' } });
  expect(changed.ok()).toBeTruthy();
  await item.getByRole('button', { name: 'In progress' }).click();
  await expect(page.getByText('“Book night train tickets” was changed elsewhere', { exact: false })).toBeVisible();
  await expect(taskItem(page, 'Book the sleeper train')).toBeVisible();
  await expect(taskItem(page, 'Book the sleeper train').getByRole('button', { name: 'Pending' }))
    .toHaveAttribute('aria-pressed', 'true');
});

test('deletes after a confirmation', async ({ page }) => {
  await page.goto('/');
  const item = taskItem(page, 'Water the plants');
  await item.getByRole('button', { name: 'Delete Water the plants' }).click();
  await item.getByRole('button', { name: 'Keep' }).click();
  await expect(item).toBeVisible();
  await item.getByRole('button', { name: 'Delete Water the plants' }).click();
  await item.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(item).toHaveCount(0);
  await expect(page.getByText('Deleted “Water the plants”.')).toBeVisible();
  await page.reload();
  await expect(page.locator('li.task')).toHaveCount(2);
});

test('when the API is down it says so, rolls back, and recovers without a reload', async ({ page }) => {
  await page.goto('/');
  const item = taskItem(page, 'Buy oat milk');
  // The API goes away only once the page has what the test acts on: the list
  // and the counts (both loaded at start-up, in any order).
  await expect(item.getByRole('button', { name: 'In progress' })).toHaveAttribute('aria-pressed', 'true');
  await expect(counts(page, 'All')).toContainText('2');
  await page.route(/\/(api\/|health)/, (route) => route.abort());
  await item.getByRole('button', { name: 'Complete' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'The server cannot be reached' })).toBeVisible();
  await expect(item.getByRole('button', { name: 'In progress' })).toHaveAttribute('aria-pressed', 'true');
  await snapshot(page, 'api-down');
  await page.unroute(/\/(api\/|health)/);
  await expect(page.getByText('The server is reachable again.')).toBeVisible({ timeout: 10_000 });
  await expect(page.getByRole('alert').filter({ hasText: 'The server cannot be reached' })).toHaveCount(0);
  await item.getByRole('button', { name: 'Complete' }).click();
  await expect(item.getByRole('button', { name: 'Complete' })).toHaveAttribute('aria-pressed', 'true');
});

test('what people type is never taken as HTML', async ({ page }) => {
  await page.goto('/');
  const title = '<img src=x onerror="window.injected=1"><b>bold?</b>';
  await addTask(page, title, '<script>window.injected=2</script>');
  await expect(page.locator('li.task img')).toHaveCount(0);
  await expect(page.locator('li.task b')).toHaveCount(0);
  expect(await page.evaluate(() => window.injected)).toBeUndefined();
  await expect(taskItem(page, title)).toContainText('<script>window.injected=2</script>');
});

test('works by keyboard on a phone-width screen in dark mode', async ({ browser, baseURL, storageState }) => {
  const context = await browser.newContext({ baseURL, storageState, viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByLabel('Title', { exact: true })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Title', { exact: true })).toBeFocused();
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await expect(taskItem(page, 'Typed without a mouse')).toBeVisible();
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe('rgb(18, 20, 24)');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(375);
  await snapshot(page, 'phone-dark');
  await context.close();
});

test('has no serious or critical accessibility findings, light and dark (axe-core)', async ({ page, browser, baseURL, storageState, api }) => {
  test.slow(); // two looks, six states each, and two recoveries from an outage
  // Its own tasks, one in each look: with a description, without one ("Add a
  // description"), complete (struck through) and in progress, with a history.
  const made = [];
  for (const [data, status] of [
    [{ title: 'Checked by axe', description: 'Every state, light and dark' }, 'complete'],
    [{ title: 'Checked by axe, no description' }, 'in_progress'],
  ]) {
    const task = await (await api.post('/api/tasks', { data })).json();
    expect((await api.put(`/api/tasks/${task.id}`, { data: { status } })).ok()).toBeTruthy();
    made.push(task);
  }
  await expect.poll(async () => (await (await api.get(`/api/tasks/${made[0].id}/history`)).json()).length,
    { timeout: 30_000 }).toBe(2);

  /** Every state worth scanning, in the page's current colour scheme and width. */
  async function scanStates(page, look) {
    await page.goto('/');
    const item = taskItem(page, 'Checked by axe');
    await expect(taskItem(page, 'Checked by axe, no description').getByRole('button', { name: 'Add a description' }))
      .toBeVisible();
    await expect(item.getByRole('button', { name: 'Complete' })).toHaveAttribute('aria-pressed', 'true');
    await expectAccessible(page, `${look}: the list`);

    await page.getByLabel('Title', { exact: true }).fill('   ');
    await page.getByRole('button', { name: 'Add task' }).click();
    await expect(page.getByText('Title must not be blank.')).toBeVisible();
    await expectAccessible(page, `${look}: the form with a validation error`);

    await item.getByRole('button', { name: 'History' }).click();
    await expect(item.getByRole('region', { name: 'History of Checked by axe' }).locator('li[data-event-type]'))
      .toHaveCount(2);
    await expectAccessible(page, `${look}: a task's history open`);

    await item.getByRole('button', { name: /^Edit title/ }).click();
    await expect(page.locator('.edit-title')).toBeFocused();
    await expectAccessible(page, `${look}: editing a title in place`);
    await page.locator('.edit-title').press('Escape');
    await item.getByRole('button', { name: 'Delete Checked by axe' }).click();
    await expect(item.getByRole('button', { name: 'Keep' })).toBeVisible();
    await expectAccessible(page, `${look}: a delete to confirm`);
    await item.getByRole('button', { name: 'Keep' }).click();

    // The banner while the server cannot be reached.
    await page.route(/\/(api\/|health)/, (route) => route.abort());
    await taskItem(page, 'Checked by axe, no description').getByRole('button', { name: 'Pending' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'The server cannot be reached' })).toBeVisible();
    await expectAccessible(page, `${look}: the server cannot be reached`);
    await page.unroute(/\/(api\/|health)/);
    await expect(page.getByText('The server is reachable again.')).toBeVisible({ timeout: 10_000 });
  }

  await scanStates(page, 'light, desktop');
  const context = await browser.newContext({ baseURL, storageState, viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
  await scanStates(await context.newPage(), 'dark, phone width');
  await context.close();

  for (const task of made) expect((await api.delete(`/api/tasks/${task.id}`)).ok()).toBeTruthy();
});
