// The one way the page calls the REST API: JSON in and out, the bearer token
// when one is stored, and errors in the API's shape as ApiError.

const TOKEN_KEY = "locus_token";
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.hint = error.hint || null;
    this.details = error.details || null;
    // FastAPI's own 404 for a path it has no route for: the endpoint does not
    // exist on this server (yet), which the page shows calmly.
    this.routeMissing = status === 404 && error.message === "Not Found";
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) {
    localStorage.setItem(TOKEN_KEY, value);
    // The cookie lets the browser load "/" and the event stream, which
    // cannot carry an Authorization header.
    document.cookie = `${TOKEN_KEY}=${encodeURIComponent(value)}; path=/; SameSite=Strict`;
  } else {
    localStorage.removeItem(TOKEN_KEY);
    document.cookie = `${TOKEN_KEY}=; path=/; max-age=0; SameSite=Strict`;
  }
}

export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const stored = token();
  if (stored) headers.Authorization = `Bearer ${stored}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (response.status === 401) onUnauthorized();
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || { message: response.statusText });
  }
  return data;
}

/** Query strings from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;
