// The API client, generated from docs/openapi.json (openapi-typescript types + openapi-fetch),
// and the credential. The credential lives in this module's variables only (ADR 0033): never in
// a cookie, localStorage, sessionStorage or a URL, so a reload or a closed tab signs out. That
// holds for an ID token from single sign-on too (views/signin.ts): only its PKCE verifier and
// state pass through sessionStorage, for the redirect round trip.

import createClient, { type Middleware } from "openapi-fetch";
import { saveBlob } from "./dom";
import type { components, paths } from "./generated/openapi";

export type Schemas = components["schemas"];
export type ErrorBody = Schemas["ErrorBody"];

/** Who is signed in: a tenant's API key, a tenant's administrator by single sign-on, or the
 * operator acting on a tenant it picked. */
interface Session {
  token: string;
  operator: boolean;
  /** Single sign-on: who (the ID token's email, else its subject) and when the token expires. */
  user?: { name: string; expiresAt: number };
  /** The tenant the operator acts on (`X-Tenant-Id`); a tenant key acts on its own. */
  tenantId?: string;
  tenantName?: string;
}

let session: Session | undefined;

const auth: Middleware = {
  onRequest({ request }) {
    if (session) {
      request.headers.set("Authorization", `Bearer ${session.token}`);
      if (session.operator && session.tenantId) request.headers.set("X-Tenant-Id", session.tenantId);
    }
    return request;
  },
};

/** The typed client: same origin, so the CSP's `connect-src 'self'` allows it. */
export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/** An API error as an exception, with the shared error body's code and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body?: ErrorBody,
  ) {
    super(body ? `${body.message} (${body.code})` : `HTTP ${status}`);
  }
}

/** The body of a successful answer, or an ApiFailure. */
export function must<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.data !== undefined) return result.data;
  throw new ApiFailure(result.response.status, result.error as ErrorBody | undefined);
}

/** Tries a credential: the operator may list tenants, a tenant admin key (or an administrator's
 * ID token) may list licenses. `user` names a single sign-on's user and its token's expiry. */
export async function signIn(token: string, user?: Session["user"]): Promise<"operator" | "tenant"> {
  const headers = { Authorization: `Bearer ${token}` };
  const tenants = await api.GET("/api/v1/admin/tenants", { headers });
  if (tenants.response.ok) {
    session = { token, operator: true, user };
    return "operator";
  }
  if (tenants.response.status !== 403) throw new ApiFailure(tenants.response.status, tenants.error);
  const licenses = await api.GET("/api/v1/admin/licenses", { params: { query: { limit: 1 } }, headers });
  if (!licenses.response.ok) throw new ApiFailure(licenses.response.status, licenses.error);
  session = { token, operator: false, user };
  return "tenant";
}

export function signOut(): void {
  session = undefined;
}

export function signedIn(): boolean {
  return session !== undefined;
}

/** The single sign-on's user, if signed in that way. */
export function ssoUser(): Session["user"] {
  return session?.user;
}

export function isOperator(): boolean {
  return session?.operator ?? false;
}

/** The tenant views act on: a tenant key's own (undefined id), or the operator's pick. */
export function tenant(): { id?: string; name?: string; picked: boolean } {
  if (!session) return { picked: false };
  if (!session.operator) return { picked: true };
  return { id: session.tenantId, name: session.tenantName, picked: session.tenantId !== undefined };
}

export function actAs(id: string, name: string): void {
  if (session?.operator) {
    session.tenantId = id;
    session.tenantName = name;
  }
}

/** The credential's headers for a request made with plain fetch (a download, the event
 * stream): the bearer token, and the operator's `X-Tenant-Id`. */
export function authHeaders(): Record<string, string> {
  if (!session) throw new ApiFailure(401);
  const headers: Record<string, string> = { Authorization: `Bearer ${session.token}` };
  if (session.operator && session.tenantId) headers["X-Tenant-Id"] = session.tenantId;
  return headers;
}

/** A download through fetch with the bearer header (the credential never goes in a URL),
 * handed to the browser as a Blob link. */
export async function download(path: string, query: Record<string, string>, filename: string): Promise<void> {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as ErrorBody | undefined;
    throw new ApiFailure(response.status, body);
  }
  saveBlob(await response.blob(), filename);
}
