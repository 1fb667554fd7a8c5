// The console in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// nothing downloads a browser), against a live embedded license-server: sign in with the operator
// token, create a tenant and act on it, create a license and a client key, watch a seat appear
// when a client acquires (through the HTTP API), force-release it with a hold-off and see the
// client evicted, download a usage CSV, check the event log's chain in the browser, and create a
// webhook endpoint that a loopback receiver gets deliveries on. No CSP
// violation or page error may occur. Screenshots of each view (1280x800) go to
// target/console-screenshots, or to docs/console/ with UPDATE_SCREENSHOTS=1.
//
// LICENSE_SERVER_BIN names the binary (console/check sets it; else target/debug/license-server
// under CARGO_TARGET_DIR); CHROMIUM_BIN the browser (default /usr/bin/chromium).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
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

async function freePort() {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  await once(probe, "close");
  return port;
}

/** The embedded default in a temporary data directory, healthy (polled, no fixed sleep). */
async function startServer() {
  // A missing binary is a loud failure naming the package, never a skip.
  await access(binary).catch(() => {
    throw new Error(`no ${binary}: run \`cargo build -p license-server\` first (console/check does)`);
  });
  const dir = await mkdtemp(join(tmpdir(), "license-console-"));
  const dataDir = join(dir, "data");
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("LICENSE_")));
  Object.assign(env, {
    LICENSE_SERVER__LISTEN: `127.0.0.1:${port}`,
    LICENSE_DATA_DIR: dataDir,
    // The test's webhook receiver is plain http on loopback.
    LICENSE_WEBHOOKS__ALLOW_HTTP: "true",
    LICENSE_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: "true",
    // The shortest interval allowed, so a `checkpoint` entry is in the log during the test.
    LICENSE_EVENTS__CHECKPOINT_INTERVAL_SECONDS: "60",
  });
  const log = createWriteStream(join(dir, "server.log"));
  await once(log, "open");
  const child = spawn(binary, [], { env, stdio: ["ignore", log, log] });
  const baseUrl = `http://127.0.0.1:${port}`;
  const startedAt = Date.now();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const health = await fetch(`${baseUrl}/api/v1/health`, { signal: AbortSignal.timeout(2_000) });
      if (health.status === 200) {
        const operatorToken = (await readFile(join(dataDir, "operator-token"), "utf8")).trim();
        return {
          baseUrl,
          operatorToken,
          startedAt,
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

let server;
let browser;
let page;
const problems = [];

before(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, colorScheme: "light" });
  page = await context.newPage();
  // A CSP refusal shows up as a console error; an exception as a page error.
  page.on("console", (m) => {
    // A refused credential (401, 403 at sign-in) and the refused policy (400) are logged by the
    // browser; nothing else may be.
    // So is the event stream the test refuses on purpose (503).
    const refusedStream = /status of 503/.test(m.text()) && /\/api\/v1\/admin\/events\/stream/.test(m.location().url);
    if (m.type() === "error" && !refusedStream && !/Failed to load resource: the server responded with a status of 40[013]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function shot(name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

/** A webhook receiver on loopback: records each POST (headers and body), answers 204. */
async function startReceiver() {
  const received = [];
  const http = createHttpServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { url: `http://127.0.0.1:${http.address().port}/hooks/license`, received, close: () => http.close() };
}

/** The client side, through the HTTP API: acquire, heartbeat. */
async function client(path, key, body) {
  const response = await fetch(`${server.baseUrl}/api/v1/licenses/${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** An admin call through the HTTP API (the test's own setup, not the console's). */
async function admin(method, path, key, body) {
  const response = await fetch(`${server.baseUrl}/api/v1/admin/${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test("the console: sign in, a license, a seat seen live, force-released, a CSV, the event log", async () => {
  // Sign in with the operator token; nothing is stored outside the page's memory.
  await page.goto(`${server.baseUrl}/console`);
  await page.getByLabel("Tenant API key (admin scope) or operator token").waitFor();
  await shot("sign-in");
  await page.getByLabel("Tenant API key (admin scope) or operator token").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("That credential was not accepted.").waitFor();
  await page.getByLabel("Tenant API key (admin scope) or operator token").fill(server.operatorToken);
  await page.getByRole("button", { name: "Sign in" }).click();

  // Operator: create a tenant, act on it.
  await page.getByRole("heading", { name: "Tenants" }).waitFor();
  await page.getByLabel("Name").fill("Acme Engineering");
  await page.getByRole("button", { name: "Create tenant" }).click();
  const tenantAdminKey = (await page.locator("#new-tenant-secret").textContent()).trim();
  await shot("tenants");
  await page.getByRole("button", { name: "Act on it: Acme Engineering" }).click();

  // Licenses: create one with an overdraft; its page opens.
  await page.getByRole("heading", { name: "Licenses" }).waitFor();
  await page.getByLabel("Product").fill("CAD Studio");
  await page.getByLabel("Seats", { exact: true }).fill("3");
  await page.getByLabel("Overdraft seats").fill("1");
  await page.getByRole("button", { name: "Create license" }).click();
  await page.getByRole("heading", { name: "CAD Studio" }).waitFor();
  const licenseId = new URL(page.url()).hash.split("/")[2];
  const licenseKey = (await page.locator("#license-key").textContent()).trim();
  await page.getByText("No sessions: no seat is in use.").waitFor();

  // A client key, shown once.
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("workstations");
  await page.getByRole("button", { name: "Create key" }).click();
  const clientKey = (await page.locator("#new-key-secret").textContent()).trim();
  assert.match(clientKey, /\S{20,}/);
  await page.getByRole("cell", { name: "workstations", exact: true }).waitFor();
  await shot("api-keys");

  // The license lends seats for offline work (set through the API: the console's form does not).
  const lend = await admin("PATCH", `licenses/${licenseId}`, tenantAdminKey, { max_borrow_seconds: 86_400 });
  assert.equal(lend.status, 200, JSON.stringify(lend.body));

  // A client acquires: the licenses list shows the seats in use.
  const lease = await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0042", user_email: "ada@example.com" });
  assert.equal(lease.status, 200, JSON.stringify(lease.body));
  await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0077", user_email: "grace@example.com" });
  await page.getByRole("link", { name: "Licenses" }).click();
  await page.getByRole("meter").first().waitFor();
  assert.equal(await page.getByRole("meter").first().getAttribute("aria-valuenow"), "2");
  await shot("licenses");
  await page.getByRole("link", { name: "CAD Studio" }).click();
  const sessions = page.getByRole("region", { name: "Live sessions" });
  const seatTime = page.getByRole("region", { name: "Seat time, last 30 days" });
  await sessions.getByRole("cell", { name: "ada@example.com", exact: true }).waitFor();
  // The page follows the seat-event stream (no polling): the next seat arrives through it.
  await page.getByText("Live: following the event stream.").waitFor();
  const third = await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0100", user_email: "linus@example.com" });
  assert.equal(third.status, 200);
  await sessions.getByRole("cell", { name: "linus@example.com", exact: true }).waitFor({ timeout: 5_000 });

  // Force-release Ada's seat with a one-hour hold-off: her client is evicted.
  await page.getByLabel("Hold-off for ws-0042").selectOption({ label: "1 hour" });
  await page.getByRole("form", { name: "Force release ws-0042" }).getByRole("button", { name: "Force release" }).click();
  await page.getByText(/Released ws-0042; held off until/).waitFor();
  await sessions.getByRole("cell", { name: "ada@example.com", exact: true }).waitFor({ state: "detached" });
  const beat = await client("heartbeat", clientKey, { session_id: lease.body.session_id });
  assert.equal(beat.status, 410, JSON.stringify(beat.body));
  assert.equal(beat.body.code, "evicted");
  const again = await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0042", user_email: "ada@example.com" });
  assert.equal(again.status, 403, "held off");

  // The live timeline follows the stream: two seats now (Grace, Linus), three at the peak.
  const timeline = page.locator("#timeline-summary");
  await timeline.filter({ hasText: /^Seats in use now: 2 of 3\. Peak in view \(since \d\d:\d\d UTC\): 3, / }).waitFor({ timeout: 5_000 });

  // A laptop borrows a seat: the borrowed list shows who, which host, until when; revoking it
  // frees the seat and the client's next check-in answers 410 evicted.
  const borrow = await client("borrow", clientKey, { license_key: licenseKey, hardware_id: "laptop-7", user_email: "margaret@example.com", borrow_seconds: 7_200 });
  assert.equal(borrow.status, 200, JSON.stringify(borrow.body));
  assert.equal(borrow.body.borrowed, true);
  const borrowed = page.getByRole("region", { name: "Borrowed seats" });
  await borrowed.getByRole("cell", { name: "margaret@example.com", exact: true }).waitFor({ timeout: 5_000 });
  await borrowed.getByRole("cell", { name: "laptop-7", exact: true }).waitFor();
  await timeline.filter({ hasText: /^Seats in use now: 3 of 3\./ }).waitFor({ timeout: 5_000 });
  await page.evaluate(() => document.getElementById("borrowed-title")?.scrollIntoView());
  await page.screenshot({ path: join(shots, "license-borrowed.png") });
  await borrowed.getByRole("button", { name: "Revoke borrow of laptop-7" }).click();
  await page.getByText(/^Revoked the borrow of laptop-7/).waitFor();
  await borrowed.getByText("No seat is borrowed.").waitFor();
  await timeline.filter({ hasText: /^Seats in use now: 2 of 3\./ }).waitFor({ timeout: 5_000 });
  const checkIn = await client("heartbeat", clientKey, { session_id: borrow.body.session_id });
  assert.equal(checkIn.status, 410, JSON.stringify(checkIn.body));
  assert.equal(checkIn.body.code, "evicted");

  // Usage CSV by user: fetched with the bearer header, handed over as a Blob. The event log is
  // written in batches (250 ms), so the rows may need a second try.
  let csv = "";
  for (let attempt = 0; attempt < 20 && !csv.includes("grace@example.com"); attempt++) {
    if (attempt > 0) await sleep(250);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    assert.match(download.suggestedFilename(), /^usage-.*-by-user\.csv$/);
    csv = await readFile(await download.path(), "utf8");
  }
  assert.match(csv.split("\n")[0], /peak_seats/);
  assert.match(csv, /grace@example\.com/);
  await page.getByLabel("Per").selectOption("host");
  await seatTime.getByRole("cell", { name: "ws-0077", exact: true }).waitFor();

  // The policy: a refused one shows the server's message naming the field; a good one is shown
  // as groups and rules, and the usage per group follows it (the policy as it is now).
  const policy = page.getByRole("region", { name: "Policy" });
  const policyText = page.getByLabel(/^Policy \(JSON/);
  await policyText.fill(JSON.stringify({ groups: [], rules: [{ rule: "include", group: "ops" }] }));
  await page.getByRole("button", { name: "Save policy" }).click();
  await policy.getByRole("alert").filter({ hasText: /rules/ }).waitFor();
  await policyText.fill(
    JSON.stringify({
      groups: [{ name: "engineering", members: [{ kind: "domain", value: "example.com" }] }],
      rules: [{ rule: "priority", level: 10, group: "engineering" }],
    }),
  );
  await page.getByRole("button", { name: "Save policy" }).click();
  await policy.getByText(/^Policy saved/).waitFor();
  await policy.getByRole("cell", { name: "priority 10 engineering", exact: true }).waitFor();
  await page.getByLabel("Per").selectOption("group");
  await seatTime.getByRole("cell", { name: "engineering", exact: true }).waitFor();

  // Yesterday's signed statement (the license is new: no seat time), downloaded as JSON.
  const statement = page.getByRole("region", { name: /^Signed statement, / });
  await statement.getByRole("button", { name: "Download statement" }).waitFor();
  const [saved] = await Promise.all([page.waitForEvent("download"), statement.getByRole("button", { name: "Download statement" }).click()]);
  assert.match(saved.suggestedFilename(), /^statement-.*\.json$/);
  const signed = JSON.parse(await readFile(await saved.path(), "utf8"));
  assert.equal(signed.seat_seconds, 0);
  assert.match(signed.statement, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  await shot("license");
  await policy.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "license-policy.png") });

  // The event log: entries, and the chain verified in the browser.
  await page.getByRole("link", { name: "Event log" }).click();
  await page.getByText(/^Chain verified: entries 1–\d+/).waitFor();
  await page.getByRole("cell", { name: "evicted", exact: true }).first().waitFor();
  // A checkpoint signed now, verified here against the tenant's root-certified keys.
  await page.getByRole("button", { name: "Sign a checkpoint now" }).click();
  await page.getByText(/^Checkpoint of entry \d+ signed .*: verified \(signature, and the hash matches the chain\)\.$/).waitFor();
  await shot("events");

  // Webhooks: an endpoint (its secret shown once) receives the log; its deliveries are listed,
  // a redelivery from entry 1 is accepted, and it can be disabled.
  const receiver = await startReceiver();
  try {
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks" }).waitFor();
    await page.getByLabel("URL").fill(receiver.url);
    await page.getByLabel("Description").fill("audit mirror");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    assert.match((await page.locator("#new-webhook-secret").textContent()).trim(), /^whsec_/);
    await page.getByRole("cell", { name: receiver.url, exact: true }).waitFor();
    await page.getByRole("button", { name: `Deliveries to ${receiver.url}` }).click();
    await page.getByLabel("Send again from log entry").fill("1");
    await page.getByRole("button", { name: "Redeliver" }).click();
    await page.getByText(/will be sent again/).waitFor();
    const deliveries = page.getByRole("region", { name: `Deliveries to ${receiver.url}` });
    for (let attempt = 0; attempt < 40 && (await deliveries.getByRole("cell", { name: "delivered", exact: true }).count()) === 0; attempt++) {
      await sleep(250);
      await page.getByRole("button", { name: "Refresh deliveries" }).click();
    }
    await deliveries.getByRole("cell", { name: "delivered", exact: true }).first().waitFor();
    assert.ok(receiver.received.length > 0, "the receiver got a POST");
    assert.equal(receiver.received[0].method, "POST");
    assert.ok(receiver.received[0].headers["webhook-id"], JSON.stringify(receiver.received[0].headers));
    await shot("webhooks");
    await page.getByRole("button", { name: `Disable ${receiver.url}` }).click();
    await page.getByRole("cell", { name: "disabled", exact: true }).waitFor();
  } finally {
    receiver.close();
  }

  // Dark mode follows prefers-color-scheme.
  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByRole("link", { name: "Licenses" }).click();
  await page.getByRole("link", { name: "CAD Studio" }).click();
  await sessions.getByRole("cell", { name: "grace@example.com", exact: true }).waitFor();
  await shot("license-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // A hidden tab neither streams nor polls; shown again, it catches up. While the stream is
  // refused, the page polls and says so; the stream comes back by itself.
  await page.getByText("Live: following the event stream.").waitFor();
  const setHidden = (hidden) =>
    page.evaluate((hidden) => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      document.dispatchEvent(new Event("visibilitychange"));
    }, hidden);
  await setHidden(true);
  await page.getByText("Updates paused while this tab is hidden.").waitFor();
  await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0300", user_email: "pat@example.com" });
  await sleep(2_500);
  assert.equal(await sessions.getByRole("cell", { name: "pat@example.com", exact: true }).count(), 0, "no update while hidden");
  const refuse = (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ code: "unavailable", message: "stream refused by the test" }) });
  await page.route("**/api/v1/admin/events/stream*", refuse);
  await setHidden(false);
  await sessions.getByRole("cell", { name: "pat@example.com", exact: true }).waitFor({ timeout: 5_000 });
  await page.getByText(/^Event stream unavailable \(stream refused by the test.*polling every 2 s/).waitFor();
  await client("acquire", clientKey, { license_key: licenseKey, hardware_id: "ws-0400", user_email: "kim@example.com" });
  await sessions.getByRole("cell", { name: "kim@example.com", exact: true }).waitFor({ timeout: 5_000 });
  await page.unroute("**/api/v1/admin/events/stream*", refuse);
  await page.getByText("Live: following the event stream.").waitFor({ timeout: 20_000 });

  // The log's own `checkpoint` entries (every 60 s here): each one verified in the browser.
  for (;;) {
    await page.getByRole("link", { name: "Event log" }).click();
    const said = (await page.locator("#checkpoint-status").textContent({ timeout: 10_000 })) ?? "";
    if (/^\d+ checkpoints? verified/.test(said)) break;
    assert.match(said, /^No checkpoint entries/);
    assert.ok(Date.now() - server.startedAt < 120_000, "a checkpoint entry within two minutes");
    await sleep(2_000);
    await page.getByRole("link", { name: "Licenses" }).click();
    await page.getByRole("heading", { name: "Licenses" }).waitFor();
  }
  await page.getByText(/^Chain verified/).waitFor();
  // A key the root did not certify verifies nothing: a tenant key set served with another key
  // in place of the tenant's fails the checkpoints, naming the first.
  const forge = async (route) => {
    const jwks = await (await route.fetch()).json();
    for (const key of jwks.keys) key.x = key.x.split("").reverse().join("");
    await route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(jwks) });
  };
  await page.route("**/api/v1/tenants/*/jwks.json", forge);
  await page.getByRole("link", { name: "Licenses" }).click();
  await page.getByRole("heading", { name: "Licenses" }).waitFor();
  await page.getByRole("link", { name: "Event log" }).click();
  await page.getByText(/^Checkpoint in entry \d+ does not verify: signed by key ".+", which is not a trusted key\.$/).waitFor();
  await page.unroute("**/api/v1/tenants/*/jwks.json", forge);

  // Keyboard: the navigation is reachable with Tab, and a reload signs out (memory only).
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.activeElement?.tagName === "A" || document.activeElement?.tagName === "BUTTON"));
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ""]);
  await page.reload();
  await page.getByLabel("Tenant API key (admin scope) or operator token").waitFor();

  // A tenant's admin key signs in to its own tenant: no tenants view, no X-Tenant-Id to pick.
  await page.getByLabel("Tenant API key (admin scope) or operator token").fill(tenantAdminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "CAD Studio" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Tenants" }).count(), 0);
  // A client-scope key is not an administrator's.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Tenant API key (admin scope) or operator token").fill(clientKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "forbidden" }).waitFor();

  assert.deepEqual(problems, []);
});

/** Runs axe-core on the page as it is; returns its serious and critical violations, named. */
async function audit(auditPage, view) {
  await auditPage.addScriptTag({ path: join(root, "console", "node_modules", "axe-core", "axe.min.js") });
  const violations = await auditPage.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations);
  const named = (v) => `${view}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`;
  // Moderate and minor findings are printed, not failed on.
  for (const v of violations.filter((v) => v.impact !== "serious" && v.impact !== "critical")) console.log(`axe-core (not failing): ${named(v)}`);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map(named);
}

test("accessibility: axe-core finds no serious or critical violation on any view, light or dark", async () => {
  // A context of its own that bypasses the CSP, only so axe can be injected: the console's
  // own test above runs under the real CSP.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, colorScheme: "light" });
  const auditPage = await context.newPage();
  const found = [];
  try {
    for (const scheme of ["light", "dark"]) {
      await auditPage.emulateMedia({ colorScheme: scheme });
      await auditPage.goto(`${server.baseUrl}/console`);
      const credential = auditPage.getByLabel("Tenant API key (admin scope) or operator token");
      await credential.waitFor();
      found.push(...(await audit(auditPage, `sign-in (${scheme})`)));
      await credential.fill(server.operatorToken);
      await auditPage.getByRole("button", { name: "Sign in" }).click();
      await auditPage.getByRole("heading", { name: "Tenants" }).waitFor();
      found.push(...(await audit(auditPage, `tenants (${scheme})`)));
      await auditPage.getByRole("button", { name: "Act on it: Acme Engineering" }).click();
      await auditPage.getByRole("link", { name: "CAD Studio" }).waitFor();
      found.push(...(await audit(auditPage, `licenses (${scheme})`)));
      await auditPage.getByRole("link", { name: "CAD Studio" }).click();
      await auditPage.getByRole("region", { name: "Policy" }).waitFor();
      await auditPage.locator("#timeline-summary").waitFor();
      found.push(...(await audit(auditPage, `license (${scheme})`)));
      const views = [
        ["API keys", () => auditPage.getByRole("heading", { name: "API keys" }).waitFor()],
        ["Event log", () => auditPage.locator("#checkpoint-status .notice").waitFor()],
        ["Webhooks", () => auditPage.getByRole("heading", { name: "Webhooks" }).waitFor()],
      ];
      for (const [link, ready] of views) {
        await auditPage.getByRole("link", { name: link }).click();
        await ready();
        found.push(...(await audit(auditPage, `${link} (${scheme})`)));
      }
      await auditPage.getByRole("button", { name: "Sign out" }).click();
    }
  } finally {
    await context.close();
  }
  if (found.length > 0) console.log(`axe-core violations:\n${found.join("\n")}`);
  assert.deepEqual(found, []);
});
