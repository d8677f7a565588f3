// Signing in and out in a real browser, through the real OpenID Provider:
// the signed-out page, the provider's sign-in page, tokens that never touch
// web storage, each user's own tasks, who made each change.
import { test, expect, addTask, taskItem, stackInfo, snapshot } from './fixtures.mjs';
import { expectAccessible } from './axe.mjs';
import { account, signInThroughThePage } from './sign-in.mjs';

test.describe.configure({ mode: 'serial' });

/** What the page keeps in web storage: never a token. */
async function webStorage(page) {
  return page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
}

test('alice signs in through the sign-in page, works, reloads, and signs out', async ({ browser, baseURL, api }) => {
  const info = stackInfo();
  // A first visit: no provider session.
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByText('Sign in to see and change your tasks.')).toBeVisible();
  await expectAccessible(page, 'signed out');
  await snapshot(page, 'signed-out');

  // A wrong password is refused, and says so.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Tasks' })).toBeVisible();
  await expectAccessible(page, 'the sign-in page');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('not her password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match');
  await expect(page.getByLabel('Username')).toHaveValue('alice');
  await expectAccessible(page, 'the sign-in page with a problem');
  await snapshot(page, 'sign-in');
  await page.getByLabel('Password').fill(account(info, 'alice').password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  await expectAccessible(page, 'signed in');

  await addTask(page, 'Only alice sees this');
  const history = taskItem(page, 'Only alice sees this');
  await page.reload();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  await expect(history).toBeVisible();
  expect(await webStorage(page)).not.toMatch(/eyJ|token/i);

  // Who made the change, in its history (once the audit log has it).
  const id = await history.getAttribute('data-task-id');
  await expect.poll(async () => (await (await api.get(`/api/tasks/${id}/history`)).json()).length,
    { timeout: 30_000 }).toBe(1);
  await history.getByRole('button', { name: 'History' }).click();
  await expect(history.getByRole('region', { name: 'History of Only alice sees this' })).toContainText('by you');

  // Signing out ends the provider's session too: the next sign-in asks again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign out of Tasks?' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByLabel('Password')).toBeVisible();
  expect(await webStorage(page)).not.toMatch(/eyJ/);
  await context.close();
});

test('bob sees none of alice’s tasks, and his own', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/');
  await signInThroughThePage(page, 'bob', stackInfo());
  await expect(page.getByText('No tasks yet.', { exact: false })).toBeVisible();
  await expect(taskItem(page, 'Only alice sees this')).toHaveCount(0);
  await addTask(page, 'Bob’s own');
  await expect(page.locator('li.task')).toHaveCount(1);
  await context.close();
});

test('a refused token is refreshed once, then the page says the session ended', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  let refreshes = 0;
  await page.route('**/oidc/token', async (route) => {
    if ((route.request().postData() ?? '').includes('grant_type=refresh_token')) refreshes += 1;
    await route.continue();
  });
  // The API now refuses every token (as after the provider's keys changed)
  // for the create the test makes: the page's own reloads (a live update's
  // among them) go through, so the refusal meets the create.
  await page.route('**/api/tasks**', (route) => (route.request().method() !== 'POST' ? route.continue() : route.fulfill({
    status: 401,
    contentType: 'application/problem+json',
    headers: { 'www-authenticate': 'Bearer realm="task-api", error="invalid_token"' },
    body: JSON.stringify({ type: 'urn:task-app:problem:invalid-token', title: 'Unauthorized', status: 401, detail: 'no' }),
  })));
  await page.getByLabel('Title', { exact: true }).fill('Refused');
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('Your session has ended');
  expect(refreshes).toBe(1);
});
