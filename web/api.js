// The console's calls to finlockd's /v1 API. The browser holds the
// session cookie (HttpOnly: no script can read it) and, in memory only,
// the session's CSRF token, sent with every change. The API key is sent
// once, to sign in, and kept nowhere.

let csrf = null;
let onEnded = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called when the server says the session has ended.
export function whenSessionEnds(fn) { onEnded = fn; }

export async function call(method, path, body, extraHeaders) {
  const headers = { Accept: 'application/json', ...(extraHeaders || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const j = await res.json().catch(() => null);
  if (!res.ok) {
    const e = j && j.error ? j.error : { code: 'http', message: res.statusText };
    if (res.status === 401 && path !== '/v1/session' && csrf !== null) {
      csrf = null;
      onEnded(e.message);
    }
    throw new ApiError(res.status, e.code, e.message);
  }
  return j;
}

// The signed-in session, or null.
export async function session() {
  try {
    const s = await call('GET', '/v1/session');
    csrf = s.csrf_token;
    return s;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function signIn(key) {
  const s = await call('POST', '/v1/session', { key });
  csrf = s.csrf_token;
  return s;
}

export async function signOut() {
  try {
    await call('DELETE', '/v1/session');
  } finally {
    csrf = null;
  }
}

// Every item of a list, following next_cursor (at most `max` items).
export async function all(path, max = 100000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await call('GET', `${path}${sep}limit=500` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
