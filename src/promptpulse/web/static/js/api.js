// The public API, read with the signed-in key. Every figure on every page comes through here.
import * as markers from "./markers.js";
import * as previous from "./previous.js";
import { intervalFor } from "./state.js";

const KEY = "pp-key";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

// The key lives in this tab's sessionStorage, and in localStorage only when the user asks to be
// remembered on this device. A new tab of the same session gets it from an open tab over a
// BroadcastChannel (same origin only); signing out clears it in every tab and on the device.
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("pp-auth") : null;
let signedOutElsewhere = () => {};

export function savedKey() {
  try { return sessionStorage.getItem(KEY) || localStorage.getItem(KEY); } catch { return null; }
}
export function saveKey(key, { remember = false } = {}) {
  sessionStorage.setItem(KEY, key);
  try {
    if (remember) localStorage.setItem(KEY, key);
    else localStorage.removeItem(KEY);
  } catch { /* storage off: this tab only */ }
}
/** Sign out: this tab, the device, and (unless told otherwise) every other open tab. */
export function forgetKey({ everywhere = true } = {}) {
  try { sessionStorage.removeItem(KEY); localStorage.removeItem(KEY); } catch { /* storage off */ }
  if (everywhere && channel) channel.postMessage({ type: "signout" });
}
export function onSignedOutElsewhere(fn) { signedOutElsewhere = fn; }

/** Ask the dashboard's other open tabs for the key; null when none answers in time. */
export function askKey(ms = 300) {
  if (!channel) return Promise.resolve(null);
  return new Promise((resolve) => {
    const listen = (e) => {
      if (e.data?.type !== "key" || !e.data.key) return;
      channel.removeEventListener("message", listen);
      clearTimeout(timer);
      sessionStorage.setItem(KEY, e.data.key);
      resolve(e.data.key);
    };
    const timer = setTimeout(() => { channel.removeEventListener("message", listen); resolve(null); }, ms);
    channel.addEventListener("message", listen);
    channel.postMessage({ type: "ask" });
  });
}

if (channel) {
  channel.addEventListener("message", (e) => {
    if (e.data?.type === "ask") {
      let key = null;
      try { key = sessionStorage.getItem(KEY); } catch { /* storage off */ }
      if (key) channel.postMessage({ type: "key", key });
    } else if (e.data?.type === "signout") {
      forgetKey({ everywhere: false });
      signedOutElsewhere();
    }
  });
}

export class Api {
  constructor(key) {
    this.key = key;
    this.requests = 0;  // calls made so far: Live's tests check a delta needed none
  }

  async get(path, params) {
    if (path !== "/v1/metrics/timeseries" || !params) return this.request("GET", path, params);
    // Every page's timeseries: the interval follows the range (state.intervalFor) unless the
    // page asks for one; the answer keeps the range's end so the partial bucket can be marked.
    if (!params.get("interval") && params.get("from") && params.get("to")) {
      params.set("interval", intervalFor({ from: params.get("from"), to: params.get("to") }));
    }
    const before = previous.isOn() && params.get("from") && params.get("to") ? previous.shifted(params) : null;
    const marks = markers.isOn() && params.get("from") && params.get("to") ? markers.fetchFor(this, params) : null;
    const [answer, prev, changes] = await Promise.all([this.request("GET", path, params), before && this.request("GET", path, before), marks]);
    answer.to = params.get("to");
    if (changes) answer.markers = changes;
    if (prev) answer.previous = { ...prev, from: before.get("from"), to: before.get("to") };
    return answer;
  }

  /** A JSON POST (acknowledge, resolve); the server checks the key's scope. */
  post(path, body = {}) { return this.request("POST", path, null, body); }

  async request(method, path, params, body) {
    const query = params ? `?${params.toString()}` : "";
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    this.requests += 1;
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
    const answer = await response.json();
    const sequence = response.headers.get("X-PromptPulse-Sequence");
    if (sequence !== null && answer && typeof answer === "object") SEEN.set(answer, Number(sequence));
    return answer;
  }
}

// The change feed's number each answer was sent at (the X-PromptPulse-Sequence header): the
// answer holds no commit numbered above it. Kept beside the answers, not in them (pages export
// answers as they came).
const SEEN = new WeakMap();

/** Whether a Live delta's commit may be missing from `answer` (so it is added): true unless
 * the server said the answer already holds it (a server among replicas does not say). */
export function lacks(answer, delta) {
  return !SEEN.has(answer) || delta.sequence > SEEN.get(answer);
}
