// The seat-event log, with the hash chain of the loaded entries checked here (WebCrypto), from
// entry 1, and the audit log of admin changes.

import { api, must, type Schemas } from "../api";
import { verifyRange } from "../chain";
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

export async function eventsView(main: HTMLElement): Promise<void> {
  const entries: Schemas["EventLogEntry"][] = [];
  const status = h("div", { id: "chain-status", "aria-live": "polite" });
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
  await load();
  const audit = must(await api.GET("/api/v1/admin/audit-events", { params: { query: { limit: 100 } } })).items;
  main.append(
    h("h1", {}, "Event log"),
    h("p", { class: "hint" }, `Loaded from entry 1, ${PAGE} at a time; shown newest first. Every entry is hash-chained to the one before (docs/events.md).`),
    status,
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
