// The JSON endpoints, called with the key the operator signed in with (sent as x-api-key, never in a URL).

const KEY = "tiered.dashboard.key";
const BASE = "/v1/tiered/dashboard";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY);
}

export function storeKey(key, remember) {
  sessionStorage.setItem(KEY, key);
  if (remember) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

async function call(path, { method = "GET", body, signal } = {}) {
  const headers = { "x-api-key": storedKey() || "", accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "the proxy cannot be reached");
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const message = payload && payload.error ? payload.error.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return payload;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const api = {
  session: (signal) => call("/session", { signal }),
  overview: (p, signal) => call(`/overview${query(p)}`, { signal }),
  series: (p, signal) => call(`/series${query(p)}`, { signal }),
  quality: (p, signal) => call(`/quality${query(p)}`, { signal }),
  decisions: (p, signal) => call(`/decisions${query(p)}`, { signal }),
  decision: (id) => call(`/decisions/${encodeURIComponent(id)}`),
  thresholds: (p, signal) => call(`/thresholds${query(p)}`, { signal }),
  alerts: (p, signal) => call(`/alerts${query(p)}`, { signal }),
  shadow: (p, signal) => call(`/shadow${query(p)}`, { signal }),
  audits: (p, signal) => call(`/audits${query(p)}`, { signal }),
  grade: (id, verdict, reason, confirmMove = false) =>
    call(`/audits/${encodeURIComponent(id)}/grade`, {
      method: "POST", body: { verdict, reason: reason || null, confirm_move: confirmMove },
    }),
  undoGrade: (id) => call(`/audits/${encodeURIComponent(id)}/grade`, { method: "DELETE" }),
};
