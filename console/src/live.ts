// The seat-event log's live stream (docs/events.md, "The live stream") read with fetch and a
// small server-sent-events parser: EventSource cannot send the bearer header, and the
// credential never goes in a URL (ADR 0033). The stream ends after five minutes; the follower
// reconnects with `Last-Event-ID` so nothing is missed or seen twice.

import { ApiFailure, api, authHeaders, must, type Schemas } from "./api";

type Entry = Schemas["EventLogEntry"];

/** One server-sent event. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** An incremental SSE parser: the fields the stream uses (`event`, `id`, `data`), comment
 * lines ignored, lines ending in CRLF, LF or CR (WHATWG "Parsing an event stream"). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  // Kept across events, as the spec's "last event ID buffer".
  private id: string | undefined;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const end = /\r\n|\n|\r/.exec(this.buffer);
      if (!end) break;
      // A CR last in the chunk may be the first half of a CRLF: wait for the next chunk.
      if (end[0] === "\r" && end.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end.index);
      this.buffer = this.buffer.slice(end.index + end[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ event: this.event || "message", id: this.id, data: this.data.join("\n") });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }
}

/** Whether the log holds an entry numbered `n` or later. */
async function reaches(n: number): Promise<boolean> {
  if (n <= 0) return true;
  const page = must(await api.GET("/api/v1/admin/events", { params: { query: { after: n - 1, limit: 1 } } }));
  return page.entries.length > 0;
}

/** The number of the tenant's last log entry (0: none yet), found with one-entry pages
 * (doubling, then halving), so a long log is not read to learn where it ends. */
export async function lastSeq(): Promise<number> {
  let lo = 0;
  let hi = 1;
  while (await reaches(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await reaches(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** What the follower reports. */
export interface FollowHandlers {
  /** Each entry after the starting point, in order, once. */
  entry(entry: Entry): void;
  /** Connected: entries now arrive as they are written. */
  live(): void;
  /** The tab is hidden: the stream is closed until it shows again. */
  paused(): void;
  /** The tab shows again (the stream reconnects and catches up). */
  resumed(): void;
  /** A connection failed; it is retried after a growing delay (the caller polls meanwhile). */
  trouble(why: string): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Follows the stream from after entry `after` until the returned function is called. */
export function follow(after: number, on: FollowHandlers): () => void {
  let last = after;
  let stopped = false;
  let controller: AbortController | undefined;
  let wake: (() => void) | undefined;
  const onVisibility = () => {
    if (document.hidden) controller?.abort();
    else wake?.();
  };
  document.addEventListener("visibilitychange", onVisibility);

  const connect = async (signal: AbortSignal) => {
    const url = new URL("/api/v1/admin/events/stream", location.origin);
    url.searchParams.set("after", String(last));
    const headers = { ...authHeaders(), Accept: "text/event-stream", "Last-Event-ID": String(last) };
    const response = await fetch(url, { headers, signal, cache: "no-store" });
    if (!response.ok || !response.body) {
      throw new ApiFailure(response.status, await response.json().catch(() => undefined));
    }
    on.live();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      for (const event of parser.push(value)) {
        if (event.event !== "entry") continue;
        let entry: Entry;
        try {
          entry = JSON.parse(event.data) as Entry;
        } catch {
          continue;
        }
        // Nothing twice, even if a server resent an entry.
        if (entry.seq <= last) continue;
        last = entry.seq;
        on.entry(entry);
      }
    }
  };

  void (async () => {
    let failures = 0;
    while (!stopped) {
      if (document.hidden) {
        on.paused();
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (stopped) return;
        on.resumed();
      }
      controller = new AbortController();
      try {
        // An ended stream (five minutes, or a replica stopping) reconnects at once.
        await connect(controller.signal);
        failures = 0;
        // A short pause, so a server that ends streams at once is not called in a tight loop.
        await sleep(250);
      } catch (e) {
        if (stopped) return;
        // Aborted because the tab was hidden: the loop waits for it to show again.
        if (controller.signal.aborted) continue;
        failures += 1;
        on.trouble(e instanceof Error ? e.message : String(e));
        await sleep(Math.min(30_000, 1_000 * 2 ** failures));
      }
    }
  })();

  return () => {
    stopped = true;
    controller?.abort();
    wake?.();
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
