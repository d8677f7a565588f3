// Starts the whole local stack (PostgreSQL, tansu, the broker, every
// function, nginx serving web/dist) on free ports in a temporary directory,
// and stops it when the tests end.
import { spawn } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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

export default async function globalSetup() {
  const stackBin = join(root, 'target/debug/stack');
  if (!existsSync(stackBin)) throw new Error(`${stackBin} is missing: run \`cargo build --workspace --bins\``);
  if (!existsSync(join(root, 'web/dist/index.html'))) throw new Error('web/dist is missing: run `trunk build` in web/');

  const stateDir = mkdtempSync(join(tmpdir(), 'task-app-e2e-'));
  // PostgreSQL runs as its own user when we are root: it must reach its data.
  chmodSync(stateDir, 0o755);
  const logDir = join(root, 'target/e2e');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, 'stack.log'));
  const [gateway, postgres, functions, kafka, broker] = [
    await freePorts(1), await freePorts(1), await freePorts(16), await freePorts(1), await freePorts(2),
  ];
  const stack = spawn(stackBin, [
    '--state-dir', stateDir, 'up',
    '--gateway-port', gateway, '--postgres-port', postgres, '--functions-base-port', functions,
    '--kafka-port', kafka, '--broker-port', broker,
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

  return async () => {
    stack.kill('SIGTERM');
    await new Promise((r) => stack.once('exit', r));
    rmSync(stateDir, { recursive: true, force: true });
  };
}
