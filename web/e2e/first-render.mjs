// Prints, as a JSON list, the milliseconds from navigation start to the first
// rendered task in headless Chromium, over `runs` fresh page loads.
// Usage: node e2e/first-render.mjs <url> <runs>     (used by `task bench`)
import { chromium } from '@playwright/test';

const [url, runs = '5'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('li.task');
  times.push(await page.evaluate(() => performance.now()));
  await context.close();
}
await browser.close();
console.log(JSON.stringify(times));
