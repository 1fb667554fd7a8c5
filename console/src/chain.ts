// The seat-event log's hash chain, checked in the browser with WebCrypto's SHA-256 (the layout
// of docs/events.md, as `license audit verify` and license_core::event_log::verify_chain):
// SHA-256("license-event-log/v1" ‖ seq u64 BE ‖ len(replica) u64 BE ‖ replica ‖ len(body)
// u64 BE ‖ body ‖ prev_hash 32 bytes).

import type { Schemas } from "./api";

type Entry = Schemas["EventLogEntry"];

const DOMAIN = new TextEncoder().encode("license-event-log/v1");
export const ZERO_HASH = "0".repeat(64);

export type ChainCheck =
  | { ok: true; entries: number; lastHash: string }
  | { ok: false; seq: number; why: string }
  | { ok: "unavailable"; why: string };

function u64(n: number | bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n));
  return bytes;
}

function fromHex(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash an entry must carry. */
export async function entryHash(entry: Entry): Promise<string | undefined> {
  const prev = fromHex(entry.prev_hash);
  if (!prev) return undefined;
  const replica = new TextEncoder().encode(entry.replica);
  const body = new TextEncoder().encode(entry.body);
  const parts = [DOMAIN, u64(entry.seq), u64(replica.length), replica, u64(body.length), body, prev];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return toHex(await crypto.subtle.digest("SHA-256", all));
}

/** Checks a range that starts right after entry `after` whose hash is `afterHash` (entry 1:
 * after 0, zeros): each hash matches its contents, numbers follow, each links to the last. */
export async function verifyRange(entries: Entry[], after = 0, afterHash = ZERO_HASH): Promise<ChainCheck> {
  // WebCrypto exists only in a secure context (HTTPS, or loopback): say so rather than guess.
  if (!globalThis.crypto?.subtle) return { ok: "unavailable", why: "WebCrypto needs HTTPS (or localhost)" };
  let seq = after;
  let prev = afterHash;
  for (const entry of entries) {
    if (entry.seq !== seq + 1) return { ok: false, seq: entry.seq, why: `expected entry ${seq + 1}` };
    if (entry.prev_hash !== prev) return { ok: false, seq: entry.seq, why: "does not link to the entry before" };
    if ((await entryHash(entry)) !== entry.hash) return { ok: false, seq: entry.seq, why: "hash does not match its contents" };
    seq = entry.seq;
    prev = entry.hash;
  }
  return { ok: true, entries: entries.length, lastHash: prev };
}
