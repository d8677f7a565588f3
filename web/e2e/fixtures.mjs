import { test as base, expect, request as playwrightRequest } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { accessToken } from './sign-in.mjs';

const screenshots = resolve(import.meta.dirname, '../../target/e2e/screenshots');
mkdirSync(screenshots, { recursive: true });

/** The running stack's stack.json (the gateway, the demo accounts). */
export function stackInfo() {
  return JSON.parse(readFileSync(process.env.E2E_STACK_JSON, 'utf8'));
}

export const test = base.extend({
  // The gateway of the stack the global setup started.
  baseURL: async ({}, use) => use(process.env.E2E_BASE_URL),
  // Pages open as alice back from an earlier visit: her provider session,
  // so the app signs her in without asking (tokens only ever in memory).
  storageState: async ({}, use) => use(process.env.E2E_STORAGE_STATE),
  // The API as alice, with a token from the provider's sign-in.
  api: async ({ baseURL }, use) => {
    const api = await playwrightRequest.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `Bearer ${accessToken(stackInfo(), 'alice')}` },
    });
    await use(api);
    await api.dispose();
  },
});

/** Leaves a screenshot for people to look at: target/e2e/screenshots/<name>.png */
export async function snapshot(page, name) {
  await page.screenshot({ path: resolve(screenshots, `${name}.png`), fullPage: true });
}

/** Creates a task through the form and waits until it is listed. */
export async function addTask(page, title, description = '') {
  await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByLabel(/^Description/).fill(description);
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(taskItem(page, title)).toBeVisible();
}

/** The list item of the task titled `title`. */
export function taskItem(page, title) {
  return page.locator('li.task').filter({ has: page.getByRole('button', { name: `Edit title: ${title}`, exact: true }) });
}

export { expect };
