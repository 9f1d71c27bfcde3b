// The management API client. The dashboard uses only the public API (version 2024-03-01),
// same origin, with the key the user signed in with: it can never see more than that key may.

export const API_VERSION = '2024-03-01';
const KEY = 'pier.apiKey';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.data && body.data.field;
    this.body = body;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

let onUnauthorized = () => {};
/** Called when a signed-in key stops working (rotated, project deleted). */
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

/** Build a query string from an object; arrays repeat the key, empty values are left out. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v == null || v === '') continue;
    for (const x of [].concat(v)) q.append(k, String(x));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function call(method, path, { params, body, key, signal } = {}) {
  const k = key ?? session.key;
  const headers = { Accept: 'application/json' };
  if (k) headers.Authorization = 'Bearer ' + k;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/${API_VERSION}${path}${query(params)}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
    credentials: 'omit',
  });
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && key === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const api = {
  get: (path, params, opts) => call('GET', path, { ...opts, params }),
  post: (path, body, opts) => call('POST', path, { ...opts, body: body ?? {} }),
  put: (path, body, opts) => call('PUT', path, { ...opts, body: body ?? {} }),
  del: (path, opts) => call('DELETE', path, opts),

  /** Check a key without signing in with it: resolves true, or throws ApiError (401 if refused). */
  async check(key) {
    await call('GET', '/connections/count', { key });
    return true;
  },

  /** Every page of a list, up to `max` models. */
  async all(path, params = {}, max = 1000) {
    const out = [];
    let next = null;
    do {
      const page = await call('GET', path, { params: { ...params, limit: 255, next } });
      out.push(...page.models);
      next = page.pagination && page.pagination.next;
    } while (next && out.length < max);
    return out;
  },
};

/** A small cache of names (sources, destinations, connections) for rendering ids in lists. */
export const names = {
  sources: new Map(),
  destinations: new Map(),
  connections: new Map(),
  loadedAt: 0,
  /** Reload at most every 10 s, or every 3 s when `force` (an id was not found). */
  async refresh(force = false) {
    if (Date.now() - this.loadedAt < (force ? 3_000 : 10_000)) return this;
    const conns = await api.all('/connections');
    const [srcs, dests] = await Promise.all([api.all('/sources'), api.all('/destinations')]);
    this.sources = new Map(srcs.map((s) => [s.id, s]));
    this.destinations = new Map(dests.map((d) => [d.id, d]));
    this.connections = new Map(conns.map((c) => [c.id, c]));
    this.loadedAt = Date.now();
    return this;
  },
  clear() {
    this.sources.clear();
    this.destinations.clear();
    this.connections.clear();
    this.loadedAt = 0;
  },
};
