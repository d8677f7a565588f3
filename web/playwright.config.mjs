// Browser tests of the web app against the whole local stack, in Debian's
// Chromium (Playwright never downloads a browser here).
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './e2e',
  outputDir: '../target/e2e/results',
  globalSetup: './e2e/global-setup.mjs',
  // One stack, one browser, one test at a time: the tests share the data.
  workers: 1,
  fullyParallel: false,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
             '--disable-dev-shm-usage', '--disable-component-update', '--no-first-run'],
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});
