// Where the provider keeps sessions, grants, codes and refresh tokens: in
// this process's memory, on purpose. A restart of the provider signs
// everyone out (the web app then shows its signed-out page) and nothing of
// it outlives the stack; the signing key and the accounts, which must
// survive, are files (state.mjs).

const entries = new Map();
const grants = new Map();

const key = (model, id) => `${model}:${id}`;

export class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(key(this.model, id), { payload, expiresAt });
    if (payload.grantId) {
      const ids = grants.get(payload.grantId) ?? new Set();
      ids.add(key(this.model, id));
      grants.set(payload.grantId, ids);
    }
  }

  async find(id) {
    const entry = entries.get(key(this.model, id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key(this.model, id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [k, entry] of entries) {
      if (k.startsWith(`${this.model}:`) && entry.payload.uid === uid) return this.find(k.slice(this.model.length + 1));
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [k, entry] of entries) {
      if (k.startsWith(`${this.model}:`) && entry.payload.userCode === userCode) return this.find(k.slice(this.model.length + 1));
    }
    return undefined;
  }

  async consume(id) {
    const entry = entries.get(key(this.model, id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    entries.delete(key(this.model, id));
  }

  async revokeByGrantId(grantId) {
    for (const k of grants.get(grantId) ?? []) entries.delete(k);
    grants.delete(grantId);
  }
}

// Expired entries are dropped once a minute, so memory stays bounded.
setInterval(() => {
  const now = Date.now();
  for (const [k, entry] of entries) if (entry.expiresAt <= now) entries.delete(k);
}, 60_000).unref();
