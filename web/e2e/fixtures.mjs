import { test as base, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

const screenshots = resolve(import.meta.dirname, '../../target/e2e/screenshots');
mkdirSync(screenshots, { recursive: true });

export const test = base.extend({
  // The gateway of the stack the global setup started.
  baseURL: async ({}, use) => use(process.env.E2E_BASE_URL),
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
