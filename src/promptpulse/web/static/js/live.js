// Live mode's connection: one Server-Sent Events stream per tab (GET /v1/changes/stream).
// Read with fetch rather than EventSource: an EventSource cannot send headers, and the key
// must not go in a URL (URLs end up in access logs and history); with fetch it travels in
// the Authorization header like every other call. Proxies see the same text/event-stream.
//
// Events: hello and bye {sequence} (the server ends each stream after a few seconds; the tab
// reconnects at once, and re-queries only if a commit landed in between), delta (one commit's
// figures for one project), changed (a commit without a delta: re-query), resync (this tab
// fell behind and its deltas were dropped: re-query everything).

const RETRY_MS = [500, 1000, 2000, 5000, 10000];

/**
 * Open the stream and keep it open until close(). handlers: open() (each hello), delta(d),
 * changed(), resync(), denied() (401/403: signed out). Returns {close}.
 */
export function connect(key, handlers) {
  let seen = null;  // the last sequence heard; null before the first hello
  let stopped = false;
  let controller = null;

  async function once() {
    controller = new AbortController();
    const response = await fetch("/v1/changes/stream", {
      headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
      cache: "no-store", signal: controller.signal,
    });
    if (response.status === 401 || response.status === 403) { handlers.denied(); return false; }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    for await (const [name, data] of events(response.body)) {
      if (stopped) return false;
      if (name === "hello") {
        // Reconnected after a gap in which something committed: what the panels show may
        // miss it, so they re-query. (The first hello: the page has just queried.)
        if (seen !== null && data.sequence !== seen) handlers.resync();
        seen = data.sequence;
        handlers.open();
      } else if (name === "delta") {
        seen = Math.max(seen ?? 0, data.sequence);
        handlers.delta(data);
      } else if (name === "changed" || name === "resync" || name === "bye") {
        if (name !== "bye") handlers[name]();
        seen = data.sequence ?? seen;
      }
    }
    return true;
  }

  (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (!(await once())) return;
        failures = 0;
      } catch {
        if (stopped) return;
        await new Promise((ok) => setTimeout(ok, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]));
        failures += 1;
      }
    }
  })();
  return { close() { stopped = true; controller?.abort(); } };
}

/** [event name, parsed data] pairs of a text/event-stream body; comments skipped. */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}
