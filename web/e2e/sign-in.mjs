// Signing in as a person does (the provider's sign-in page) and as a script
// does (stack.json's token_command, which signs in through the same page).
import { execFileSync } from 'node:child_process';
import { expect } from '@playwright/test';

/** A demo account of the stack (`info` is its stack.json). */
export function account(info, username) {
  const user = info.auth.users.find((u) => u.username === username);
  if (!user) throw new Error(`no demo account ${username}`);
  return user;
}

/**
 * From the app's signed-out page: Sign in, then the provider's form, then
 * back in the app as `username`.
 */
export async function signInThroughThePage(page, username, info) {
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(account(info, username).password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
}

/** A fresh access token of `username`, from stack.json's token command. */
export function accessToken(info, username) {
  const [command, ...args] = info.auth.token_command;
  return execFileSync(command, [...args, username], { encoding: 'utf8' }).trim();
}
