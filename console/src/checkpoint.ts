// Signed checkpoints of the seat-event log (docs/events.md, ADR 0030) checked in the browser
// with WebCrypto, as `license audit verify --tenant … --root …` and
// license_core::event_checkpoint::verify_embedded do: each tenant key must carry a certificate
// signed by a root key of /.well-known/jwks.json (type `tenant-key+jwt`, `sub` the tenant,
// `cnf.jwk` the key, valid now, the `kid` its thumbprint); a checkpoint (a compact JWS of type `event-checkpoint+jwt`) must verify
// against a certified key — the algorithm pinned by the key, never taken from the token — name
// the tenant and the certificate's issuer, say what its log entry says, and vouch for the hash
// the chain has at that entry.

import { api, must, type Schemas } from "./api";

type Jwk = Schemas["JwkDto"];
type Entry = Schemas["EventLogEntry"];

/** What a checkpoint says. */
export interface CheckpointClaims {
  iss: string;
  tid: string;
  seq: number;
  hash: string;
  iat: number;
}

/** The tenant's keys that checked out against the root, and the issuer their certificates name. */
export interface TrustedKeys {
  keys: Jwk[];
  issuer: string;
}

class Refused extends Error {}

function b64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Refused("not base64url");
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function json<T>(b64: string, what: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(b64url(b64))) as T;
  } catch {
    throw new Refused(`bad ${what}`);
  }
}

/** WebCrypto's names for the algorithms a key may pin (JwkDto's `alg`). */
function algorithms(alg: string): { imported: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams; verify: AlgorithmIdentifier | EcdsaParams | RsaPssParams } {
  switch (alg) {
    case "EdDSA":
      return { imported: { name: "Ed25519" }, verify: { name: "Ed25519" } };
    case "ES256":
      // A JWS's ES256 signature is r ‖ s, the form WebCrypto's ECDSA verifies.
      return { imported: { name: "ECDSA", namedCurve: "P-256" } as EcKeyImportParams, verify: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams };
    case "RS256":
      return { imported: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams, verify: { name: "RSASSA-PKCS1-v1_5" } };
    case "PS256":
      return { imported: { name: "RSA-PSS", hash: "SHA-256" } as RsaHashedImportParams, verify: { name: "RSA-PSS", saltLength: 32 } as RsaPssParams };
    default:
      throw new Refused(`algorithm ${alg} is not allowed`);
  }
}

/** Checks a compact JWS against `keys` (by `kid`; the header's `alg` must be the key's) and
 * its `typ`; returns its claims. */
async function verifyJws<T>(keys: Jwk[], token: string, typ: string): Promise<T> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Refused("expected three dot-separated parts");
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  const header = json<{ alg?: string; typ?: string; kid?: string }>(headerB64, "header");
  const key = keys.find((k) => k.kid === header.kid);
  if (!key) throw new Refused(`signed by key ${JSON.stringify(header.kid ?? "")}, which is not a trusted key`);
  if (header.alg !== key.alg) throw new Refused(`the token says ${header.alg}, its key is ${key.alg}`);
  const { imported, verify } = algorithms(key.alg);
  const material: JsonWebKey = { kty: key.kty, crv: key.crv, x: key.x, y: key.y, n: key.n, e: key.e };
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey("jwk", material, imported, false, ["verify"]);
  } catch (e) {
    throw new Refused(`key ${key.kid} cannot be used here (${e instanceof Error ? e.message : String(e)})`);
  }
  const input = new TextEncoder().encode(`${headerB64}.${payloadB64}`);
  if (!(await crypto.subtle.verify(verify, cryptoKey, b64url(signatureB64), input))) throw new Refused("bad signature");
  if (header.typ !== typ) throw new Refused(`type ${JSON.stringify(header.typ ?? "")}, not ${typ}`);
  return json<T>(payloadB64, "claims");
}

const sameKey = (a: Jwk, b: Partial<Jwk>) => a.kid === b.kid && a.kty === b.kty && a.alg === b.alg && a.x === b.x && a.y === b.y && a.n === b.n && a.e === b.e;

function toB64url(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The key's RFC 7638 thumbprint (SHA-256 of its required members in lexicographic order,
 * no whitespace), as license_core's `PublicJwk::thumbprint`. */
async function thumbprint(key: Jwk): Promise<string> {
  const canonical =
    key.kty === "RSA"
      ? { e: key.e ?? "", kty: "RSA", n: key.n ?? "" }
      : key.kty === "EC"
        ? { crv: key.crv ?? "", kty: "EC", x: key.x ?? "", y: key.y ?? "" }
        : { crv: key.crv ?? "", kty: key.kty, x: key.x ?? "" };
  return toB64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(canonical))));
}

/** Clock skew allowed on a certificate's validity (license_core's default leeway). */
const LEEWAY_SECONDS = 30;

/** The tenant's published keys that carry a good root certificate (valid now, as
 * `TenantJwks::certified_keys` checks), and the issuer those certificates name. */
export async function trustedKeys(tenantId: string): Promise<TrustedKeys> {
  const [root, tenantJwks] = await Promise.all([
    api.GET("/.well-known/jwks.json").then(must),
    api.GET("/api/v1/tenants/{tenant_id}/jwks.json", { params: { path: { tenant_id: tenantId } } }).then(must),
  ]);
  const keys: Jwk[] = [];
  let issuer = "";
  const now = Date.now() / 1000;
  for (const [i, key] of tenantJwks.keys.entries()) {
    const certificate = tenantJwks.certificates[i];
    if (!certificate) continue;
    try {
      const claims = await verifyJws<{ iss: string; sub: string; nbf: number; exp: number; cnf?: { jwk?: Partial<Jwk> } }>(root.keys, certificate, "tenant-key+jwt");
      if (claims.sub !== tenantId || !claims.cnf?.jwk || !sameKey(key, claims.cnf.jwk)) continue;
      if (claims.exp + LEEWAY_SECONDS <= now || claims.nbf - LEEWAY_SECONDS > now) continue;
      if (key.kid !== (await thumbprint(key))) continue;
      if (issuer && claims.iss !== issuer) continue;
      issuer = claims.iss;
      keys.push(key);
    } catch {
      // A key without a good certificate is not the tenant's: it verifies nothing.
    }
  }
  return { keys, issuer };
}

/** Checks one checkpoint JWS for the tenant; returns what it says. */
export async function verifyCheckpoint(token: string, trusted: TrustedKeys, tenantId: string): Promise<CheckpointClaims> {
  const claims = await verifyJws<CheckpointClaims>(trusted.keys, token, "event-checkpoint+jwt");
  if (claims.iss !== trusted.issuer) throw new Refused(`issuer ${JSON.stringify(claims.iss)}, not ${JSON.stringify(trusted.issuer)}`);
  if (claims.tid !== tenantId) throw new Refused("made for another tenant");
  if (!Number.isSafeInteger(claims.seq) || !/^[0-9a-f]{64}$/.test(claims.hash)) throw new Refused("bad claims");
  return claims;
}

export type CheckpointsCheck =
  | { ok: true; count: number }
  | { ok: false; seq: number; why: string }
  | { ok: "unavailable"; why: string };

/** Checks every `checkpoint` entry of `entries` (a range whose chain checked out): its JWS,
 * that it says what the entry says, and that the entry it vouches for, when loaded, has
 * that hash. */
export async function verifyCheckpointEntries(entries: Entry[], tenantId: string | undefined): Promise<CheckpointsCheck> {
  if (!globalThis.crypto?.subtle) return { ok: "unavailable", why: "WebCrypto needs HTTPS (or localhost)" };
  const logged = entries
    .map((entry) => {
      try {
        return { entry, body: JSON.parse(entry.body) as { type?: unknown; seq?: unknown; hash?: unknown; checkpoint?: unknown } };
      } catch {
        return undefined;
      }
    })
    .filter((e) => e?.body.type === "checkpoint") as { entry: Entry; body: { seq?: unknown; hash?: unknown; checkpoint?: unknown } }[];
  if (logged.length === 0) return { ok: true, count: 0 };
  if (!tenantId) return { ok: "unavailable", why: "the tenant is not known" };
  let trusted: TrustedKeys;
  try {
    trusted = await trustedKeys(tenantId);
  } catch (e) {
    return { ok: "unavailable", why: `the tenant's keys could not be read (${e instanceof Error ? e.message : String(e)})` };
  }
  const hashes = new Map(entries.map((e) => [e.seq, e.hash]));
  for (const { entry, body } of logged) {
    try {
      if (typeof body.checkpoint !== "string") throw new Refused("it holds no JWS");
      const claims = await verifyCheckpoint(body.checkpoint, trusted, tenantId);
      if (claims.seq !== body.seq || claims.hash !== body.hash) throw new Refused("its JWS says another entry or hash than it does");
      const found = hashes.get(claims.seq);
      if (found !== undefined && found !== claims.hash) throw new Refused(`entry ${claims.seq} has another hash than it vouches for`);
    } catch (e) {
      return { ok: false, seq: entry.seq, why: e instanceof Error ? e.message : String(e) };
    }
  }
  return { ok: true, count: logged.length };
}
