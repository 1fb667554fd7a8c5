// Single sign-on in the console (ADR 0033 part 3), in a real headless Chromium against a live
// embedded license-server configured with a fake OpenID Connect provider that runs in this test
// on loopback: an authorize endpoint that redirects back with a code, a token endpoint that
// checks the PKCE verifier and answers an RS256 ID token signed with a key made here by
// node:crypto (the tenant and admin claims in it), and the JWKS the server verifies with.
// Sign in by single sign-on, see the licenses view, create a license, sign out; a token that
// expires signs the console out with a message. No CSP violation or page error may occur, and
// nothing is left in storage. The sign-in screenshot goes where console.test.mjs puts its own.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const binary = process.env.LICENSE_SERVER_BIN ?? join(targetDir, "debug", "license-server");
const shots = process.env.UPDATE_SCREENSHOTS === "1" ? join(root, "docs", "console") : join(targetDir, "console-screenshots");
const CLIENT_ID = "license-console";

async function freePort() {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  await once(probe, "close");
  return port;
}

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** The fake provider. `claims` is merged into every ID token; `lifetime` is its seconds. */
async function startProvider() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = b64url(randomBytes(8));
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const codes = new Map();
  const provider = { claims: {}, lifetime: 3600, authorizations: [], exchanges: [] };
  const http = createHttpServer((req, res) => {
    const url = new URL(req.url, provider.issuer);
    if (req.method === "GET" && url.pathname === "/jwks") {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    } else if (req.method === "GET" && url.pathname === "/authorize") {
      // The user is signed in at once; the code remembers what the token request must match.
      const q = Object.fromEntries(url.searchParams);
      provider.authorizations.push(q);
      const back = new URL(q.redirect_uri);
      back.searchParams.set("state", q.state ?? "");
      if (q.client_id !== CLIENT_ID || q.response_type !== "code" || q.code_challenge_method !== "S256" || !q.scope?.split(" ").includes("openid")) {
        back.searchParams.set("error", "invalid_request");
      } else {
        const code = b64url(randomBytes(16));
        codes.set(code, q);
        back.searchParams.set("code", code);
      }
      res.writeHead(302, { Location: back.toString() }).end();
    } else if (req.method === "POST" && url.pathname === "/token") {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        provider.exchanges.push({ origin: req.headers.origin, contentType: req.headers["content-type"], form });
        const asked = codes.get(form.code);
        codes.delete(form.code);
        // A browser on another origin reads the answer only with CORS (as real providers allow).
        const headers = { "Content-Type": "application/json", "Access-Control-Allow-Origin": req.headers.origin ?? "*" };
        const verified =
          asked &&
          form.grant_type === "authorization_code" &&
          form.client_id === CLIENT_ID &&
          form.redirect_uri === asked.redirect_uri &&
          b64url(createHash("sha256").update(form.code_verifier ?? "").digest()) === asked.code_challenge;
        if (!verified) {
          res.writeHead(400, headers).end(JSON.stringify({ error: "invalid_grant" }));
          return;
        }
        const now = Math.floor(Date.now() / 1000);
        const claims = { iss: provider.issuer, aud: CLIENT_ID, sub: "u-1001", iat: now, exp: now + provider.lifetime, nonce: asked.nonce, ...provider.claims };
        const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }))}.${b64url(JSON.stringify(claims))}`;
        const signature = sign("sha256", Buffer.from(input), privateKey);
        res.writeHead(200, headers).end(JSON.stringify({ id_token: `${input}.${b64url(signature)}`, token_type: "Bearer", expires_in: provider.lifetime }));
      });
    } else {
      res.writeHead(404).end();
    }
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  provider.issuer = `http://127.0.0.1:${http.address().port}`;
  provider.close = () => http.close();
  return provider;
}

/** The embedded default, trusting the provider, healthy (polled, no fixed sleep). */
async function startServer(provider) {
  await access(binary).catch(() => {
    throw new Error(`no ${binary}: run \`cargo build -p license-server\` first (console/check does)`);
  });
  const dir = await mkdtemp(join(tmpdir(), "license-console-sso-"));
  const dataDir = join(dir, "data");
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("LICENSE_")));
  Object.assign(env, {
    LICENSE_SERVER__LISTEN: `127.0.0.1:${port}`,
    LICENSE_DATA_DIR: dataDir,
    LICENSE_AUTH__OIDC__JWKS_URL: `${provider.issuer}/jwks`,
    LICENSE_AUTH__OIDC__ISSUER: provider.issuer,
    LICENSE_AUTH__OIDC__AUDIENCE: CLIENT_ID,
    LICENSE_AUTH__OIDC__ADMIN_CLAIM: "roles",
    LICENSE_AUTH__OIDC__ADMIN_VALUES: "license-admin",
    LICENSE_AUTH__OIDC__CONSOLE_CLIENT_ID: CLIENT_ID,
    LICENSE_AUTH__OIDC__AUTHORIZATION_ENDPOINT: `${provider.issuer}/authorize`,
    LICENSE_AUTH__OIDC__TOKEN_ENDPOINT: `${provider.issuer}/token`,
  });
  const log = createWriteStream(join(dir, "server.log"));
  await once(log, "open");
  const child = spawn(binary, [], { env, stdio: ["ignore", log, log] });
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const health = await fetch(`${baseUrl}/api/v1/health`, { signal: AbortSignal.timeout(2_000) });
      if (health.status === 200) {
        const operatorToken = (await readFile(join(dataDir, "operator-token"), "utf8")).trim();
        return {
          baseUrl,
          operatorToken,
          async stop() {
            if (child.exitCode === null) {
              const exited = once(child, "exit");
              child.kill("SIGTERM");
              await exited;
            }
            log.close();
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error(`license-server (${binary}) did not become healthy:\n${await readFile(join(dir, "server.log"), "utf8")}`);
}

let provider;
let server;
let browser;
let page;
const problems = [];

before(async () => {
  provider = await startProvider();
  server = await startServer(provider);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
  page = await context.newPage();
  // A CSP refusal shows up as a console error; an exception as a page error. Nothing may occur.
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  provider?.close();
});

test("single sign-on: an administrator's ID token signs in, works on its tenant, signs out, expires", async () => {
  // A tenant, made by the operator through the API; the provider puts it in its tokens.
  const created = await fetch(`${server.baseUrl}/api/v1/admin/tenants`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.operatorToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Acme Design" }),
  });
  assert.equal(created.status, 201);
  const tenant = (await created.json()).tenant;
  provider.claims = { tenant_id: tenant.id, email: "alice@acme.example", roles: ["staff", "license-admin"] };

  await page.goto(`${server.baseUrl}/console`);
  const sso = page.getByRole("button", { name: "Sign in with single sign-on" });
  await sso.waitFor();
  await page.screenshot({ path: join(shots, "sign-in-sso.png") });
  await sso.click();

  // Back from the provider: the code is exchanged, the licenses view shows, the address bar
  // holds no code and nothing is left in storage.
  await page.getByRole("heading", { name: "Licenses" }).waitFor();
  await page.getByText("alice@acme.example").waitFor();
  assert.equal(new URL(page.url()).search, "");
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ""]);
  const [asked] = provider.authorizations;
  assert.equal(asked.redirect_uri, `${server.baseUrl}/console`);
  assert.equal(asked.scope, "openid email");
  assert.match(asked.code_challenge, /^[\w-]{43}$/);
  assert.match(asked.nonce, /^[\w-]{43}$/);
  const [exchange] = provider.exchanges;
  assert.equal(exchange.origin, server.baseUrl);
  assert.match(exchange.form.code_verifier, /^[\w-]{43}$/);
  assert.equal(exchange.form.client_secret, undefined, "a public client: no secret");
  // An administrator of its tenant, not the operator.
  assert.equal(await page.getByRole("link", { name: "Tenants" }).count(), 0);

  await page.getByLabel("Product").fill("Sketch Pro");
  await page.getByLabel("Seats", { exact: true }).fill("2");
  await page.getByRole("button", { name: "Create license" }).click();
  await page.getByRole("heading", { name: "Sketch Pro" }).waitFor();
  // The audit log names the user.
  const audit = await fetch(`${server.baseUrl}/api/v1/admin/audit-events`, {
    headers: { Authorization: `Bearer ${server.operatorToken}`, "X-Tenant-Id": tenant.id },
  });
  const entries = (await audit.json()).items;
  assert.equal(entries[0].action, "license.create");
  assert.equal(entries[0].actor, "user:u-1001");

  await page.getByRole("button", { name: "Sign out" }).click();
  await sso.waitFor();

  // A token that expires signs the console out, with a message.
  provider.lifetime = 3;
  await sso.click();
  await page.getByRole("heading", { name: "Licenses" }).waitFor();
  await page.getByText("Your single sign-on session expired: sign in again.").waitFor({ timeout: 10_000 });
  await sso.waitFor();

  // Without the admin claim the provider's user may not administer: refused, and said so.
  provider.lifetime = 3600;
  provider.claims = { ...provider.claims, roles: ["staff"] };
  await sso.click();
  await page.getByRole("alert").filter({ hasText: "forbidden" }).waitFor();
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);

  // A return from the provider this tab did not start (no pending verifier) signs nobody in.
  const exchanges = provider.exchanges.length;
  await page.goto(`${server.baseUrl}/console?code=stolen&state=guessed`);
  await page.getByRole("alert").filter({ hasText: "Single sign-on did not complete" }).waitFor();
  assert.equal(new URL(page.url()).search, "", "the code is taken out of the address bar");
  assert.equal(provider.exchanges.length, exchanges, "no exchange attempted");

  // The refused sign-in's 403 is the one error the browser may log.
  const unexpected = problems.filter((p) => !/Failed to load resource: the server responded with a status of 403/.test(p));
  assert.deepEqual(unexpected, []);
});
