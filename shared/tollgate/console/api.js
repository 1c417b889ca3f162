// The public API, same origin, with the key from this tab's session storage. The key goes in
// the Authorization header only: never in a URL, a cookie or a log.
const STORAGE = "tollgate.key";

export const session = {
  key: () => sessionStorage.getItem(STORAGE),
  save: (key) => sessionStorage.setItem(STORAGE, key),
  clear: () => sessionStorage.removeItem(STORAGE),
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  // A route this deployment does not have (analytics, reports before they ship).
  get missing() {
    return this.status === 404 && this.problem && String(this.problem.detail || "").startsWith("no route");
  }
}

function url(path, query) {
  const u = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") u.searchParams.set(name, String(value));
  }
  return u;
}

async function send(path, { method = "GET", query, body, accept = "application/json" } = {}) {
  const headers = { Authorization: `Bearer ${session.key()}`, Accept: accept };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  if (!response.ok) {
    const text = await response.text();
    let problem = null;
    try { problem = JSON.parse(text); } catch { problem = { detail: text }; }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function api(path, options) {
  const response = await send(path, options);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export async function apiBlob(path, options) {
  return (await send(path, { ...options, accept: "*/*" })).blob();
}

// Every page of a paged list (items + next_cursor), up to `max` items.
export async function all(path, query, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: 100, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
