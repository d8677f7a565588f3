// Prints, as a JSON list, the milliseconds from navigation start to the first
// rendered task in headless Chromium, over `runs` fresh page loads of a
// returning visitor: signed in once through the provider's sign-in page
// (SIGN_IN_USERNAME, SIGN_IN_PASSWORD), each load then starts with that
// provider session only, and signs in silently before the list shows.
// Usage: node e2e/first-render.mjs <url> <runs>     (used by `task bench`)
import { chromium } from '@playwright/test';

const [url, runs = '5'] = process.argv.slice(2);
const { SIGN_IN_USERNAME: username, SIGN_IN_PASSWORD: password } = process.env;
if (!username || !password) throw new Error('set SIGN_IN_USERNAME and SIGN_IN_PASSWORD');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const first = await browser.newContext();
const signIn = await first.newPage();
await signIn.goto(url);
await signIn.getByRole('button', { name: 'Sign in' }).click();
await signIn.getByLabel('Username').fill(username);
await signIn.getByLabel('Password').fill(password);
await signIn.getByRole('button', { name: 'Sign in' }).click();
await signIn.getByText(`Signed in as ${username}`).waitFor();
const storageState = await first.storageState();
await first.close();

const times = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('li.task');
  times.push(await page.evaluate(() => performance.now()));
  await context.close();
}
await browser.close();
console.log(JSON.stringify(times));
