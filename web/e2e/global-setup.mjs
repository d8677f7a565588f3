// Starts the whole local stack (the OpenID Provider, PostgreSQL, tansu, the
// broker, every function, nginx serving web/dist) on free ports in a
// temporary directory, signs alice in once through the provider's sign-in
// page (the tests' pages start with her provider session, as a returning
// visitor's would), and stops the stack when the tests end.
import { spawn } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from '@playwright/test';
import { signInThroughThePage } from './sign-in.mjs';

const root = resolve(import.meta.dirname, '../..');

function isFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The first of `count` consecutive free ports. */
async function freePorts(count) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let port = base; port < base + count && ok; port++) ok = await isFree(port);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

export default async function globalSetup(config) {
  const { launchOptions } = config.projects[0].use;
  const stackBin = join(root, 'target/debug/stack');
  if (!existsSync(stackBin)) throw new Error(`${stackBin} is missing: run \`cargo build --workspace --bins\``);
  if (!existsSync(join(root, 'web/dist/index.html'))) throw new Error('web/dist is missing: run `trunk build` in web/');

  const stateDir = mkdtempSync(join(tmpdir(), 'task-app-e2e-'));
  // PostgreSQL runs as its own user when we are root: it must reach its data.
  chmodSync(stateDir, 0o755);
  const logDir = join(root, 'target/e2e');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, 'stack.log'));
  const [gateway, postgres, functions, kafka, broker, oidc] = [
    await freePorts(1), await freePorts(1), await freePorts(16), await freePorts(1), await freePorts(2),
    await freePorts(1),
  ];
  const stack = spawn(stackBin, [
    '--state-dir', stateDir, 'up',
    '--gateway-port', gateway, '--postgres-port', postgres, '--functions-base-port', functions,
    '--kafka-port', kafka, '--broker-port', broker, '--oidc-port', oidc,
    '--bin-dir', join(root, 'target/debug'), '--web-dir', join(root, 'web/dist'),
    '--manifests', join(root, 'knative/base'),
  ].map(String), { stdio: ['ignore', 'pipe', 'pipe'] });
  stack.stdout.pipe(log);
  stack.stderr.pipe(log);

  const stackFile = join(stateDir, 'stack.json');
  const started = Date.now();
  while (!existsSync(stackFile)) {
    if (stack.exitCode !== null) throw new Error(`the stack exited (${stack.exitCode}); see target/e2e/stack.log`);
    if (Date.now() - started > 120_000) throw new Error('the stack was not ready in 120 s; see target/e2e/stack.log');
    await new Promise((r) => setTimeout(r, 100));
  }
  const info = JSON.parse(readFileSync(stackFile, 'utf8'));
  process.env.E2E_BASE_URL = info.gateway_url;
  process.env.E2E_STACK_JSON = stackFile;

  // alice's provider session (a cookie of the provider's, never a token).
  const browser = await chromium.launch(launchOptions);
  const context = await browser.newContext({ baseURL: info.gateway_url });
  const page = await context.newPage();
  await page.goto('/');
  await signInThroughThePage(page, 'alice', info);
  process.env.E2E_STORAGE_STATE = join(logDir, 'alice-session.json');
  await context.storageState({ path: process.env.E2E_STORAGE_STATE });
  await browser.close();

  return async () => {
    stack.kill('SIGTERM');
    await new Promise((r) => stack.once('exit', r));
    rmSync(stateDir, { recursive: true, force: true });
    // Every process's log, the gateway's access log among them: no token
    // (a JWT starts with eyJ) and no sign-in code may be in it.
    await new Promise((r) => log.end(r));
    const logged = readFileSync(join(logDir, 'stack.log'), 'utf8');
    if (/eyJ|[?&]code=/.test(logged)) throw new Error('a token or a sign-in code is in target/e2e/stack.log');
  };
}
