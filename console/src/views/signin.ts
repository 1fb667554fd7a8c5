// The sign-in view: a tenant API key or the operator token typed in, or — where the server is
// configured for it (`GET /console/config.json`) — single sign-on at the identity provider:
// the authorization code flow with PKCE for a public client (no secret), ADR 0033 part 3.
//
// The PKCE verifier, the state and the nonce must survive the redirect to the provider and
// back, which leaves this page: they go to sessionStorage (this tab only) for that round trip
// and are deleted as soon as the page is back, whatever the outcome. The ID token itself never
// goes to any storage: it is kept in memory (api.ts) like a typed-in credential.

import { ApiFailure, signIn } from "../api";
import { h, notice } from "../dom";

/** The provider, as `/console/config.json` names it. */
interface SingleSignOn {
  authorization_endpoint: string;
  token_endpoint: string;
  client_id: string;
  scopes: string;
}

/** What crosses the redirect, in sessionStorage under PENDING. */
interface Pending {
  state: string;
  verifier: string;
  nonce: string;
}

const PENDING = "license-console.sso";

let sso: SingleSignOn | null = null;

/** Reads the console's settings once, at start. Without them the form offers no single
 * sign-on (the typed-in credential still works). */
export async function loadSettings(): Promise<void> {
  try {
    const response = await fetch("/console/config.json", { headers: { Accept: "application/json" } });
    if (response.ok) sso = ((await response.json()) as { oidc: SingleSignOn | null }).oidc;
  } catch {
    sso = null;
  }
}

/** The console's own URL, the redirect URI the provider sends the browser back to. */
function redirectUri(): string {
  return `${location.origin}/console`;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Off to the provider: a fresh verifier (RFC 7636, S256), state and nonce. */
async function startSingleSignOn(provider: SingleSignOn): Promise<void> {
  // WebCrypto's digest exists only in a secure context (HTTPS, or loopback).
  if (!crypto.subtle) throw new Error("Single sign-on needs HTTPS (or loopback): this browser offers no WebCrypto here.");
  const pending: Pending = { state: randomToken(), verifier: randomToken(), nonce: randomToken() };
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(provider.authorization_endpoint);
  const query: Record<string, string> = {
    response_type: "code",
    client_id: provider.client_id,
    redirect_uri: redirectUri(),
    scope: provider.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/** The claims of a JWT, unverified: the server verifies the signature on every call; the
 * console reads only the nonce, who it is and when it expires. */
function claims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  const text = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The outcome of coming back from the provider. */
export type Return = { who: "operator" | "tenant" } | { error: string } | undefined;

/** Finishes a sign-on when the page is the provider's redirect back (`?code=…&state=…` or
 * `?error=…`): the pending values are deleted and the query is taken out of the address bar
 * first, whatever follows; then the code is exchanged at the token endpoint (with the
 * verifier) and the ID token signs in. `undefined` when this is no return from the provider. */
export async function finishSingleSignOn(): Promise<Return> {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return undefined;
  const saved = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", "/console");
  if (!saved || !sso) return { error: "Single sign-on did not complete: start it again from this page." };
  const pending = JSON.parse(saved) as Pending;
  if (query.get("state") !== pending.state) return { error: "Single sign-on refused: the answer does not belong to this sign-in (state)." };
  const error = query.get("error");
  if (error) return { error: `The identity provider did not sign you in (${error}${query.get("error_description") ? `: ${query.get("error_description")}` : ""}).` };
  try {
    const response = await fetch(sso.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: query.get("code") ?? "",
        redirect_uri: redirectUri(),
        client_id: sso.client_id,
        code_verifier: pending.verifier,
      }),
    });
    const body = (await response.json().catch(() => ({}))) as { id_token?: string; error?: string };
    if (!response.ok || !body.id_token) return { error: `The identity provider gave no ID token (${body.error ?? `HTTP ${response.status}`}).` };
    const token = body.id_token;
    const said = claims(token);
    if (said.nonce !== pending.nonce) return { error: "Single sign-on refused: the ID token is not for this sign-in (nonce)." };
    const name = typeof said.email === "string" ? said.email : String(said.sub ?? "user");
    const expiresAt = typeof said.exp === "number" ? said.exp * 1000 : Date.now();
    return { who: await signIn(token, { name, expiresAt }) };
  } catch (e) {
    return { error: refusal(e) };
  }
}

function refusal(e: unknown): string {
  if (e instanceof ApiFailure && e.status === 401) return "That credential was not accepted.";
  if (e instanceof ApiFailure && e.status === 403)
    return `This credential may not administer (${e.body?.code ?? "forbidden"}): use an admin-scope key, an administrator's sign-on or the operator token.`;
  return e instanceof Error ? e.message : String(e);
}

/** The sign-in form; `signedIn` routes on after a success, `message` is shown first (why the
 * last session ended, or how single sign-on failed). */
export function signInView(signedIn: (who: "operator" | "tenant") => Promise<void>, message?: string): HTMLElement {
  const input = h("input", {
    id: "credential",
    name: "credential",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const status = h("div", { "aria-live": "polite" }, message ? notice("error", message) : null);
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "license-server console"),
    h("label", { for: "credential" }, "Tenant API key (admin scope) or operator token"),
    input,
    h(
      "p",
      { class: "hint" },
      "Kept in this tab's memory only: reloading or closing the page signs you out.",
    ),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const who = await signIn(input.value.trim());
      input.value = "";
      await signedIn(who);
    } catch (e) {
      status.append(notice("error", refusal(e)));
    }
  });
  if (sso) {
    const provider = sso;
    const button = h("button", { type: "button", class: "sso" }, "Sign in with single sign-on");
    button.addEventListener("click", () => {
      status.replaceChildren();
      startSingleSignOn(provider).catch((e: unknown) => status.append(notice("error", refusal(e))));
    });
    form.insertBefore(h("div", { class: "sso-choice" }, button, h("p", { class: "hint" }, "or with a key:")), form.querySelector("label"));
  }
  return form;
}
