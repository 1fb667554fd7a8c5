// The original end-to-end scenario, through the client generated from docs/openapi.json only
// (openapi-typescript types + openapi-fetch). A tenant, two licenses (2 and 50 seats) and a
// client-scope API key are made through the generated admin operations; then: acquire, acquire,
// a third acquire → 402 no_seats_available, release one, the third → 200, heartbeat → a fresh
// token, release, and a heartbeat of the released session → 410 session_expired. Every lease
// token is verified offline with jose, pinned to the root keys of /.well-known/jwks.json: the
// tenant's keys (/api/v1/tenants/{id}/jwks.json) are trusted only with the root's certificate,
// the algorithm is pinned by the key, and the audience must be the tenant. And an eviction: the
// README snippet stops (throws Evicted) instead of taking a new seat.

// The snippet in README.md ("Call it from your language") is the region below, verbatim.
// README:typescript:start
import createClient from "openapi-fetch";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import type { components, paths } from "../src/generated/openapi.js";

/** An administrator evicted the session or holds this machine off (403/410 `evicted`): stop the
 * application, tell the user the reason, and take no seat before `until`. */
export class Evicted extends Error {
  constructor(readonly body: components["schemas"]["ErrorBody"]) {
    super(`evicted by an administrator: ${body.reason}`); // body.until: absent without a hold-off
  }
}

export async function tenantKeys(api: ReturnType<typeof createClient<paths>>, tenantId: string, issuer: string) {
  const { data: roots } = await api.GET("/.well-known/jwks.json"); // pin these: ship them in your app
  const { data: set } = await api.GET("/api/v1/tenants/{tenant_id}/jwks.json", { params: { path: { tenant_id: tenantId } } });
  const keys: JWK[] = [];
  for (const certificate of set!.certificates) { // the root certifies each tenant key
    const { payload } = await jwtVerify(certificate, createLocalJWKSet(roots!), { issuer, subject: tenantId, typ: "tenant-key+jwt" });
    keys.push((payload.cnf as { jwk: JWK }).jwk);
  }
  return keys;
}

export async function holdASeat(server: string, clientKey: string, licenseKey: string, tenantId: string, issuer = "license-server") {
  const api = createClient<paths>({ baseUrl: server, headers: { Authorization: `Bearer ${clientKey}` } });
  const { data: lease, error } = await api.POST("/api/v1/licenses/acquire", {
    body: { license_key: licenseKey, hardware_id: "pc-1" },
  });
  if (error?.code === "evicted") throw new Evicted(error); // 403: held off after an eviction, no retry before error.until
  if (!lease) throw new Error(`${error.code}: ${error.message}`); // e.g. 402 no_seats_available
  if (!("token" in lease)) throw new Error("queued"); // a 202 (a place in the queue) comes only with wait_seconds
  const keys = await tenantKeys(api, tenantId, issuer);
  const key = keys.find((k) => k.kid === decodeProtectedHeader(lease.token).kid)!; // the kid picks the key,
  const { payload } = await jwtVerify(lease.token, createLocalJWKSet({ keys }), { issuer, audience: tenantId, algorithms: [key.alg!] }); // the key the algorithm
  const session = { body: { session_id: lease.session_id, session_secret: lease.session_secret } }; // a secret if the license asks
  const beat = await api.POST("/api/v1/licenses/heartbeat", session); // every lease.heartbeat_interval_seconds
  if (beat.error?.code === "evicted") throw new Evicted(beat.error); // 410: an administrator ended it, do not acquire again
  await api.POST("/api/v1/licenses/release", session);
  return payload;
}
// README:typescript:end

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { errors, type JWTPayload } from "jose";

import { ISSUER, startServer, type Server } from "../src/server.js";

type Schemas = components["schemas"];
type Api = ReturnType<typeof createClient<paths>>;

/** The body of a response that must have this status. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  assert.equal(result.response.status, status, JSON.stringify(result.error));
  assert.ok(result.data !== undefined, "a body");
  return result.data;
}

/** The lease of an acquire answered 200 (a 202 would be a place in the license's queue). */
function leased(
  result: { data?: Schemas["AcquireResponse"] | Schemas["QueuedResponse"]; error?: unknown; response: Response },
): Schemas["AcquireResponse"] {
  const data = ok(result, 200);
  assert.ok("token" in data, "a lease, not a place in the queue");
  return data;
}

/** The shared error body of a response that must have this status and code. */
function refused(
  result: { data?: unknown; error?: Schemas["ErrorBody"]; response: Response },
  status: number,
  code: string,
): Schemas["ErrorBody"] {
  assert.equal(result.response.status, status, JSON.stringify(result.data ?? result.error));
  assert.ok(result.error, "an error body");
  assert.equal(result.error.code, code, result.error.message);
  return result.error;
}

/** An RFC 3339 instant in microseconds (Date.parse stops at milliseconds). */
function micros(instant: string): bigint {
  const fraction = /\.(\d+)/.exec(instant)?.[1] ?? "";
  const whole = Date.parse(instant.replace(/\.\d+/, ""));
  return BigInt(whole) * 1000n + BigInt((fraction + "000000").slice(0, 6));
}

function bearer(baseUrl: string, token: string): Api {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

let server: Server;
let tenant: {
  id: string;
  clientKey: string;
  twoSeats: Schemas["LicenseDto"];
  fiftySeats: Schemas["LicenseDto"];
};

before(async () => {
  server = await startServer();
  // A tenant, its two licenses and a client credential, through the generated admin operations.
  const operator = bearer(server.baseUrl, server.operatorToken);
  const created = ok(
    await operator.POST("/api/v1/admin/tenants", { body: { name: `typescript-sdk-${randomUUID()}` } }),
    201,
  );
  const admin = bearer(server.baseUrl, created.admin_api_key.secret);
  const license = async (seats: number) =>
    ok(await admin.POST("/api/v1/admin/licenses", { body: { product: "TypeScript SDK test", seats_total: seats } }), 201);
  const [twoSeats, fiftySeats] = [await license(2), await license(50)];
  assert.deepEqual([twoSeats.seats_total, fiftySeats.seats_total], [2, 50]);
  // The operator names the tenant it acts on with the declared X-Tenant-Id header parameter.
  const page = ok(
    await operator.GET("/api/v1/admin/licenses", { params: { header: { "X-Tenant-Id": created.tenant.id } } }),
    200,
  );
  assert.deepEqual(
    page.items.map((l) => l.id),
    [twoSeats.id, fiftySeats.id],
  );
  const key = ok(await admin.POST("/api/v1/admin/api-keys", { body: { name: "typescript client", scopes: ["client"] } }), 201);
  assert.deepEqual(key.scopes, ["client"]);
  tenant = { id: created.tenant.id, clientKey: key.secret, twoSeats, fiftySeats };
});

after(async () => {
  await server?.stop();
});

/** Offline verification with jose, pinned to the root: the kid picks one of the tenant's
 * certified keys, the key pins the algorithm, the audience is the tenant. */
async function verifier(api: Api, tenantId = tenant.id) {
  const keys = await tenantKeys(api, tenantId, ISSUER);
  const keySet = createLocalJWKSet({ keys });
  return async (token: string, issuer = ISSUER, audience = tenantId): Promise<JWTPayload> => {
    const { kid } = decodeProtectedHeader(token);
    const key = keys.find((k) => k.kid === kid);
    assert.ok(key, `a key for kid ${kid}`);
    const { payload } = await jwtVerify(token, keySet, {
      issuer,
      audience,
      algorithms: [key.alg!],
      typ: "license+jwt",
      requiredClaims: ["sub", "iat", "nbf", "exp"],
    });
    return payload;
  };
}

test("the original scenario through the generated client", async () => {
  const api = bearer(server.baseUrl, tenant.clientKey);
  const two = tenant.twoSeats.license_key;
  const take = (licenseKey: string, hardwareId: string) =>
    api.POST("/api/v1/licenses/acquire", { body: { license_key: licenseKey, hardware_id: hardwareId } });
  const session = (id: string) => ({ body: { session_id: id } });
  const checkLease = async (token: string, sessionId: string, hardwareId: string, expiresAt: string) => {
    // The tenant's key exists from its first lease: read the key set then.
    const claims = await (await verifier(api))(token);
    assert.equal(claims.sub, sessionId);
    assert.equal(claims.tid, tenant.id);
    assert.equal(claims.aud, tenant.id);
    assert.equal(claims.lic, tenant.twoSeats.id);
    assert.equal(claims.hwid, hardwareId);
    assert.equal(claims.exp, Math.floor(Date.parse(expiresAt) / 1000));
  };

  // Two seats: two machines get one each.
  const first = leased(await take(two, "pc-1"));
  const second = leased(await take(two, "pc-2"));
  assert.notEqual(first.session_id, second.session_id);
  await checkLease(first.token, first.session_id, "pc-1", first.expires_at);
  await checkLease(second.token, second.session_id, "pc-2", second.expires_at);
  assert.ok(first.heartbeat_interval_seconds > 0);

  // A retry from a machine that holds a seat gets its session back, not a second seat.
  assert.equal(leased(await take(two, "pc-1")).session_id, first.session_id);

  // The third machine is refused with the documented status and code.
  refused(await take(two, "pc-3"), 402, "no_seats_available");

  // Seats are per license: the 50-seat license still grants.
  const other = leased(await take(tenant.fiftySeats.license_key, "pc-3"));
  ok(await api.POST("/api/v1/licenses/release", session(other.session_id)), 200);

  // Release one; now the third machine gets the seat.
  ok(await api.POST("/api/v1/licenses/release", session(first.session_id)), 200);
  const third = leased(await take(two, "pc-3"));
  await checkLease(third.token, third.session_id, "pc-3", third.expires_at);

  // A heartbeat renews the seat with a fresh token for the new expiry.
  const renewed = ok(await api.POST("/api/v1/licenses/heartbeat", session(third.session_id)), 200);
  assert.ok(micros(renewed.expires_at) > micros(third.expires_at), `${renewed.expires_at} after ${third.expires_at}`);
  await checkLease(renewed.token, third.session_id, "pc-3", renewed.expires_at);

  // Release it; a heartbeat of the released session is 410 session_expired: acquire again.
  ok(await api.POST("/api/v1/licenses/release", session(third.session_id)), 200);
  refused(await api.POST("/api/v1/licenses/heartbeat", session(third.session_id)), 410, "session_expired");

  // Releasing again answers the same (release is idempotent); an unknown session is 404.
  ok(await api.POST("/api/v1/licenses/release", session(third.session_id)), 200);
  refused(await api.POST("/api/v1/licenses/heartbeat", session(randomUUID())), 404, "session_not_found");
  ok(await api.POST("/api/v1/licenses/release", session(second.session_id)), 200);
});

test("lease tokens are checked offline", async () => {
  const api = bearer(server.baseUrl, tenant.clientKey);
  const lease = leased(
    await api.POST("/api/v1/licenses/acquire", {
      body: { license_key: tenant.fiftySeats.license_key, hardware_id: "offline-1" },
    }),
  );
  try {
    const verify = await verifier(api);
    assert.equal((await verify(lease.token)).hwid, "offline-1");
    // The token is for this tenant only.
    await assert.rejects(verify(lease.token, ISSUER, randomUUID()), errors.JWTClaimValidationFailed);
    const [header, payload, signature] = lease.token.split(".") as [string, string, string];
    const forged = Buffer.from(
      Buffer.from(payload, "base64url").toString().replace('"offline-1"', '"offline-2"'),
    ).toString("base64url");
    await assert.rejects(verify(`${header}.${forged}.${signature}`), errors.JWSSignatureVerificationFailed);
    await assert.rejects(verify(lease.token, "someone-else"), errors.JWTClaimValidationFailed);
    // A verifier that allows another algorithm than the key's refuses the token.
    const keys = await tenantKeys(api, tenant.id, ISSUER);
    await assert.rejects(
      jwtVerify(lease.token, createLocalJWKSet({ keys }), { issuer: ISSUER, audience: tenant.id, algorithms: ["ES256"] }),
      errors.JOSEAlgNotAllowed,
    );
  } finally {
    await api.POST("/api/v1/licenses/release", { body: { session_id: lease.session_id } });
  }
});

test("the README snippet", async () => {
  const claims = await holdASeat(server.baseUrl, tenant.clientKey, tenant.fiftySeats.license_key, tenant.id, ISSUER);
  assert.equal(claims.hwid, "pc-1");
  assert.equal(claims.lic, tenant.fiftySeats.id);
  assert.equal(claims.aud, tenant.id);
});

test("the README snippet stops when evicted", async () => {
  // A tenant of its own, its license and client key: the hold-off below must not reach the others.
  const operator = bearer(server.baseUrl, server.operatorToken);
  const created = ok(await operator.POST("/api/v1/admin/tenants", { body: { name: `typescript-evict-${randomUUID()}` } }), 201);
  const admin = bearer(server.baseUrl, created.admin_api_key.secret);
  const license = ok(await admin.POST("/api/v1/admin/licenses", { body: { product: "Evict", seats_total: 2 } }), 201);
  const key = ok(await admin.POST("/api/v1/admin/api-keys", { body: { name: "c", scopes: ["client"] } }), 201);
  const api = bearer(server.baseUrl, key.secret);
  const lease = leased(await api.POST("/api/v1/licenses/acquire", { body: { license_key: license.license_key, hardware_id: "pc-1" } }));
  const evicted = ok(
    await admin.POST("/api/v1/admin/sessions/{session_id}/release", {
      params: { path: { session_id: lease.session_id }, query: { hold_off_seconds: 600, reason: "licence audit" } },
    }),
    200,
  );
  assert.equal(evicted.eviction?.reason, "licence audit");
  // The evicted session's heartbeat: 410 evicted, not session_expired.
  const gone = refused(await api.POST("/api/v1/licenses/heartbeat", { body: { session_id: lease.session_id } }), 410, "evicted");
  assert.equal(gone.reason, "licence audit");
  // The snippet, on the held-off machine: it stops with the reason instead of taking a seat.
  await assert.rejects(
    holdASeat(server.baseUrl, key.secret, license.license_key, created.tenant.id, ISSUER),
    // The ledger's clock decides the hold-off; the session keeps the server's reading of it.
    (e: unknown) =>
      e instanceof Evicted &&
      e.body.reason === "licence audit" &&
      Math.abs(Date.parse(e.body.until!) - Date.parse(evicted.eviction!.hold_until!)) < 1000,
  );
});

test("another tenant's lease fails the README verification", async () => {
  // Tenant B, its license and client key; its lease for the same machine.
  const operator = bearer(server.baseUrl, server.operatorToken);
  const created = ok(await operator.POST("/api/v1/admin/tenants", { body: { name: `typescript-other-${randomUUID()}` } }), 201);
  const admin = bearer(server.baseUrl, created.admin_api_key.secret);
  const license = ok(await admin.POST("/api/v1/admin/licenses", { body: { product: "Other", seats_total: 1 } }), 201);
  const key = ok(await admin.POST("/api/v1/admin/api-keys", { body: { name: "c", scopes: ["client"] } }), 201);
  const b = bearer(server.baseUrl, key.secret);
  const lease = leased(await b.POST("/api/v1/licenses/acquire", { body: { license_key: license.license_key, hardware_id: "pc-1" } }));
  const a = bearer(server.baseUrl, tenant.clientKey);
  // A's certified keys do not hold B's key…
  const aKeys = await tenantKeys(a, tenant.id, ISSUER);
  assert.ok(!aKeys.some((k) => k.kid === decodeProtectedHeader(lease.token).kid));
  await assert.rejects((await verifier(a))(lease.token), /a key for kid/);
  // …B's key, checked as A's, fails its certificate's subject, and B's token fails A's audience.
  const bKeys = await tenantKeys(b, created.tenant.id, ISSUER);
  await assert.rejects((await verifier(b, created.tenant.id))(lease.token, ISSUER, tenant.id), errors.JWTClaimValidationFailed);
  const { data: bSet } = await b.GET("/api/v1/tenants/{tenant_id}/jwks.json", { params: { path: { tenant_id: created.tenant.id } } });
  const { data: roots } = await b.GET("/.well-known/jwks.json");
  await assert.rejects(
    jwtVerify(bSet!.certificates[0]!, createLocalJWKSet(roots!), { issuer: ISSUER, subject: tenant.id }),
    errors.JWTClaimValidationFailed,
  );
  assert.equal(bKeys.length, 1);
});
