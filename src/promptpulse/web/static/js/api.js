// The public API, read with the signed-in key. Every figure on every page comes through here.
import { intervalFor } from "./state.js";

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
    if (path !== "/v1/metrics/timeseries" || !params) return this.request("GET", path, params);
    // Every page's timeseries: the interval follows the range (state.intervalFor) unless the
    // page asks for one; the answer keeps the range's end so the partial bucket can be marked.
    if (!params.get("interval") && params.get("from") && params.get("to")) {
      params.set("interval", intervalFor({ from: params.get("from"), to: params.get("to") }));
    }
    const answer = await this.request("GET", path, params);
    answer.to = params.get("to");
    return answer;
  }

  /** A JSON POST (acknowledge, resolve); the server checks the key's scope. */
  post(path, body = {}) { return this.request("POST", path, null, body); }

  async request(method, path, params, body) {
    const query = params ? `?${params.toString()}` : "";
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path + query, {
        method, headers, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, "Network error", "the server cannot be reached");
    }
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, problem.title, problem.detail);
    }
    return response.json();
  }
}
