// The seat-event log, with the hash chain of the loaded entries checked here (WebCrypto), from
// entry 1, its signed `checkpoint` entries checked against the tenant's root-certified keys
// (WebCrypto), a checkpoint signed on demand, and the audit log of admin changes.

import { ApiFailure, api, must, tenant, type Schemas } from "../api";
import { verifyRange } from "../chain";
import { trustedKeys, verifyCheckpoint, verifyCheckpointEntries } from "../checkpoint";
import { h, notice, table, when } from "../dom";

const PAGE = 200;

function eventType(body: string): { type: string; detail: string } {
  try {
    const event = JSON.parse(body) as Record<string, unknown>;
    const { type, at: _at, tenant_id: _t, ...rest } = event;
    return { type: String(type ?? "?"), detail: Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ") };
  } catch {
    return { type: "?", detail: body };
  }
}

/** The tenant whose log this is: the operator's pick, or (a tenant key) what the entries say. */
function tenantOf(entries: Schemas["EventLogEntry"][]): string | undefined {
  const picked = tenant().id;
  if (picked) return picked;
  for (const e of entries) {
    try {
      const id = (JSON.parse(e.body) as { tenant_id?: unknown }).tenant_id;
      if (typeof id === "string") return id;
    } catch {
      // Not JSON: the chain check names it.
    }
  }
  return undefined;
}

export async function eventsView(main: HTMLElement): Promise<void> {
  const entries: Schemas["EventLogEntry"][] = [];
  const status = h("div", { id: "chain-status", "aria-live": "polite" });
  const checkpoints = h("div", { id: "checkpoint-status", "aria-live": "polite" });
  const signed = h("div", { id: "signed-checkpoint", "aria-live": "polite" });
  const sign = h("button", { type: "button" }, "Sign a checkpoint now");
  const list = h("div");
  // The chain is checked from entry 1, so pages load oldest first; later ones on demand.
  const more = h("button", { type: "button" }, "Load later entries");
  let next = 0;
  const load = async () => {
    const page = must(await api.GET("/api/v1/admin/events", { params: { query: { after: next, limit: PAGE } } }));
    entries.push(...page.entries);
    next = page.next_after;
    more.hidden = page.entries.length < PAGE;
    const check = await verifyRange(entries);
    status.replaceChildren(
      check.ok === true
        ? notice("ok", `Chain verified: entries 1–${entries.length} hash and link correctly (SHA-256, checked in this browser).`)
        : check.ok === false
          ? notice("error", `Chain broken at entry ${check.seq}: ${check.why}.`)
          : notice("error", `Chain not checked: ${check.why}.`),
    );
    // Checkpoints vouch for the chain up to them: checked only over a chain that holds.
    const cps = check.ok === true ? await verifyCheckpointEntries(entries, tenantOf(entries)) : undefined;
    checkpoints.replaceChildren(
      cps === undefined
        ? notice("error", "Checkpoints not checked: the chain does not hold.")
        : cps.ok === true
          ? notice("ok", cps.count === 0 ? "No checkpoint entries in the loaded range." : `${cps.count} checkpoint${cps.count === 1 ? "" : "s"} verified: signed by the tenant's key (certified by the server's root key) and matching the chain.`)
          : cps.ok === false
            ? notice("error", `Checkpoint in entry ${cps.seq} does not verify: ${cps.why}.`)
            : notice("error", `Checkpoints not checked: ${cps.why}.`),
    );
    sign.disabled = entries.length === 0;
    list.replaceChildren(
      table(
        "Seat events",
        ["#", "At", "Event", "Details", "Replica"],
        entries
          .slice()
          .reverse()
          .map((e) => {
            const { type, detail } = eventType(e.body);
            return [e.seq, when(e.at), type, h("span", { class: "detail" }, detail), e.replica];
          }),
        "No events yet.",
      ),
    );
  };
  more.addEventListener("click", () => void load().catch((e) => status.replaceChildren(notice("error", String(e)))));
  // A checkpoint of the last loaded entry, signed now and checked here like the logged ones.
  sign.addEventListener("click", async () => {
    const last = entries[entries.length - 1];
    const tenantId = tenantOf(entries);
    if (!last || !tenantId) return;
    sign.disabled = true;
    signed.replaceChildren();
    try {
      const cp = must(await api.GET("/api/v1/admin/events/checkpoint", { params: { query: { seq: last.seq } } }));
      const claims = await verifyCheckpoint(cp.checkpoint, await trustedKeys(tenantId), tenantId);
      const ok = claims.seq === last.seq && claims.hash === last.hash && cp.hash === last.hash;
      signed.append(
        ok
          ? notice("ok", `Checkpoint of entry ${claims.seq} signed ${when(cp.signed_at)}: verified (signature, and the hash matches the chain).`)
          : notice("error", `Checkpoint of entry ${claims.seq} does not match the chain: it vouches for ${claims.hash}, entry ${last.seq} has ${last.hash}.`),
        h("details", {}, h("summary", {}, "The checkpoint (JWS)"), h("code", { class: "secret" }, cp.checkpoint)),
      );
    } catch (e) {
      signed.append(notice("error", `Checkpoint not verified: ${e instanceof ApiFailure || e instanceof Error ? e.message : String(e)}.`));
    } finally {
      sign.disabled = false;
    }
  });
  await load();
  const audit = must(await api.GET("/api/v1/admin/audit-events", { params: { query: { limit: 100 } } })).items;
  main.append(
    h("h1", {}, "Event log"),
    h("p", { class: "hint" }, `Loaded from entry 1, ${PAGE} at a time; shown newest first. Every entry is hash-chained to the one before (docs/events.md).`),
    status,
    checkpoints,
    h("div", { class: "toolbar" }, sign),
    signed,
    list,
    more,
    h("h2", {}, "Admin changes (audit log)"),
    table(
      "Audit log",
      ["At", "Actor", "Action", "Target"],
      audit.map((a) => [when(a.at), a.actor, a.action, a.target]),
      "No admin changes yet.",
    ),
  );
}
