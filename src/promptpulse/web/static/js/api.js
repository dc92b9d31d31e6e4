// The public API, read with the signed-in key. Every figure on every page comes through here.
const KEY = "pp-key";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

export function savedKey() {
  try { return sessionStorage.getItem(KEY); } catch { return null; }
}
export function saveKey(key) { sessionStorage.setItem(KEY, key); }
export function forgetKey() { sessionStorage.removeItem(KEY); }

export class Api {
  constructor(key) { this.key = key; }

  async get(path, params) {
    const query = params ? `?${params.toString()}` : "";
    let response;
    try {
      response = await fetch(path + query, {
        headers: { Authorization: `Bearer ${this.key}`, Accept: "application/json" },
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, "Network error", "the server cannot be reached");
    }
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, body.title, body.detail);
    }
    return response.json();
  }
}
