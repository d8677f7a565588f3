// What the provider keeps across restarts, in its state directory (every file
// 0600): its signing key (a restart keeps the `kid`, so tokens and the key
// sets the functions were seeded with stay valid), its cookie secrets, and
// the demo accounts with their generated passwords.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';

/** The demo accounts: two users and an administrator. */
const DEMO_ACCOUNTS = [
  { username: 'alice', roles: [] },
  { username: 'bob', roles: [] },
  { username: 'carol', roles: ['admin'] },
];

/** The algorithm of the signing key (the functions pin their list of algorithms). */
export const SIGNING_ALG = 'ES256';

function writePrivate(path, value) {
  const partial = `${path}.partial`;
  writeFileSync(partial, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, path);
}

function readJson(path) {
  if (existsSync(path)) {
    return JSON.parse(readFileSync(path, 'utf8'));
  }
  return null;
}

/** A password a person can type: 18 characters from an unambiguous alphabet. */
function newPassword() {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return [...randomBytes(18)].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Loads the provider's state from `dir`, creating what is missing. Returns
 * the private signing JWK, the cookie keys and the accounts (each with an
 * opaque `sub`, its password and roles). Also writes `jwks.json`, the public
 * key set, which deployments hand to the functions so that they verify
 * tokens without asking the provider.
 */
export async function loadState(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const keyPath = join(dir, 'signing-key.json');
  let signingKey = readJson(keyPath);
  if (!signingKey) {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    signingKey = await exportJWK(privateKey);
    signingKey.kid = await calculateJwkThumbprint(signingKey);
    signingKey.alg = SIGNING_ALG;
    signingKey.use = 'sig';
    writePrivate(keyPath, signingKey);
  }

  const cookiePath = join(dir, 'cookie-keys.json');
  let cookieKeys = readJson(cookiePath);
  if (!cookieKeys) {
    cookieKeys = [randomBytes(32).toString('base64url')];
    writePrivate(cookiePath, cookieKeys);
  }

  const usersPath = join(dir, 'users.json');
  let users = readJson(usersPath) ?? [];
  let added = false;
  for (const account of DEMO_ACCOUNTS) {
    if (!users.some((user) => user.username === account.username)) {
      // The sub is opaque: nothing about the person can be read from it.
      users.push({ ...account, sub: randomUUID(), password: newPassword() });
      added = true;
    }
  }
  if (added) {
    writePrivate(usersPath, users);
  }

  const { d, ...publicKey } = signingKey;
  writePrivate(join(dir, 'jwks.json'), { keys: [publicKey] });

  return { signingKey, cookieKeys, users };
}
