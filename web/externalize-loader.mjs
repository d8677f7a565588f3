// Trunk post-build hook: moves the inline <script type="module"> Trunk writes
// into index.html (it starts the wasm app) into a file of its own, so that
// the edge router's Content-Security-Policy can allow scripts from this
// origin only ('self'), never inline ones. The file is named by its content's
// hash and loaded with an integrity attribute, like Trunk's own files.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('TRUNK_STAGING_DIR is not set: run me as a Trunk post_build hook');
const page = join(dir, 'index.html');
const html = readFileSync(page, 'utf8');
const inline = /<script type="module">([\s\S]*?)<\/script>/g;
const scripts = [...html.matchAll(inline)];
if (scripts.length !== 1) throw new Error(`expected one inline module script in ${page}, found ${scripts.length}`);
const code = scripts[0][1];
const name = `boot-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.js`;
const integrity = `sha384-${createHash('sha384').update(code).digest('base64')}`;
writeFileSync(join(dir, name), code);
writeFileSync(page, html.replace(scripts[0][0],
  `<script type="module" src="/${name}" integrity="${integrity}" crossorigin="anonymous"></script>`));
console.log(`moved the inline loader to ${name}`);
