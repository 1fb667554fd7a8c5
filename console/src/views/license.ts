// One license: its seat gauge and live sessions, borrowed seats, a live seat timeline (refreshed when the event stream names this
// license; polled every 2 s when the stream fails), a force-release with an
// optional hold-off per session, the daily usage chart (uPlot), seat time per user, host or group and
// the CSV downloads, yesterday's signed statement and the policy.

import uPlot from "uplot";

import { ApiFailure, api, download, must, type Schemas } from "../api";
import { ago, gauge, h, notice, saveBlob, table, when } from "../dom";
import { follow, lastSeq } from "../live";
import { borrowedContents, loadBorrowed } from "./borrowed";
import { policySection } from "./policy";
import { seatTimeline } from "./timeline";

type Session = Schemas["SessionDto"];

const POLL_MS = 2_000;

const HOLD_OFFS: [string, number][] = [
  ["No hold-off", 0],
  ["15 minutes", 900],
  ["1 hour", 3_600],
  ["1 day", 86_400],
];

function dayRange(days: number): { from: string; to: string } {
  const to = new Date();
  const from = new Date(to.getTime() - (days - 1) * 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

function releaseForm(session: Session, onDone: (message: string) => void, onError: (message: string) => void): HTMLElement {
  const id = session.id;
  const select = h("select", { id: `hold-${id}`, name: "hold_off_seconds" }, ...HOLD_OFFS.map(([label, s]) => h("option", { value: s }, label)));
  const button = h("button", { type: "submit", class: "danger" }, "Force release");
  const form = h(
    "form",
    { class: "release", "aria-label": `Force release ${session.hardware_id}` },
    h("label", { for: `hold-${id}`, class: "visually-hidden" }, `Hold-off for ${session.hardware_id}`),
    select,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const ended = must(
        await api.POST("/api/v1/admin/sessions/{session_id}/release", {
          params: { path: { session_id: id }, query: { hold_off_seconds: Number(select.value), reason: "released from the web console" } },
        }),
      );
      const until = ended.eviction?.hold_until;
      onDone(`Released ${session.hardware_id}` + (until ? `; held off until ${when(until)}` : ""));
    } catch (e) {
      button.disabled = false;
      onError(e instanceof ApiFailure ? e.message : String(e));
    }
  });
  return form;
}

/** Seat-hours per UTC day (`YYYY-MM-DD`), from the license's daily report. */
async function seatHoursByDay(licenseId: string): Promise<Map<string, number>> {
  const report = must(
    await api.GET("/api/v1/admin/licenses/{license_id}/report", {
      params: { path: { license_id: licenseId }, query: { ...dayRange(30), format: "json" } },
    }),
  );
  if (typeof report === "string") throw new Error("the report is not JSON");
  return new Map(report.rows.map((r) => [r.start.slice(0, 10), r.seat_seconds / 3600]));
}

function usageChart(days: Schemas["UsageDayDto"][], seatHours: Map<string, number>, seatsTotal: number): HTMLElement {
  const box = h("figure", { class: "chart" });
  const caption = h("figcaption", {}, "Per UTC day, last 30 days: peak seats, refused acquisitions (left axis) and seat-hours (right axis).");
  if (days.length === 0 && seatHours.size === 0) {
    box.append(caption, h("p", { class: "empty" }, "No usage recorded yet."));
    return box;
  }
  // Every day of the range on the axis: the API lists only days with activity.
  const byDay = new Map(days.map((d) => [d.day, d]));
  const range = dayRange(30);
  const x: number[] = [];
  for (let t = Date.parse(`${range.from}T00:00:00Z`); t <= Date.parse(`${range.to}T00:00:00Z`); t += 86_400_000) x.push(t / 1000);
  const dayOf = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
  const at = (t: number) => byDay.get(dayOf(t));
  const style = getComputedStyle(document.documentElement);
  const color = (name: string) => style.getPropertyValue(name).trim() || "#888";
  const width = Math.min(900, Math.max(320, (document.querySelector("main")?.clientWidth ?? 900) - 40));
  const plot = new uPlot(
    {
      width,
      height: 240,
      scales: {
        x: { time: true, range: [x[0]!, x[x.length - 1]!] },
        y: { range: (_u, _min, max) => [0, Math.max(seatsTotal, max) + 1] },
        h: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        { stroke: color("--fg"), grid: { stroke: color("--grid") }, ticks: { stroke: color("--grid") } },
        { stroke: color("--fg"), grid: { stroke: color("--grid") }, ticks: { stroke: color("--grid") } },
        { scale: "h", side: 1, stroke: color("--ok"), grid: { show: false }, ticks: { stroke: color("--grid") } },
      ],
      series: [
        {},
        { label: "Peak seats", stroke: color("--accent"), width: 2, points: { show: true } },
        { label: "Denials", stroke: color("--danger"), width: 2, dash: [6, 4], points: { show: true } },
        { label: "Seats", stroke: color("--muted"), width: 1, points: { show: false } },
        { label: "Seat-hours", scale: "h", stroke: color("--ok"), width: 2, points: { show: true }, value: (_u, v) => (v == null ? "--" : v.toFixed(2)) },
      ],
    },
    [
      x,
      x.map((t) => at(t)?.peak_seats ?? 0),
      x.map((t) => at(t)?.denials ?? 0),
      x.map(() => seatsTotal),
      x.map((t) => seatHours.get(dayOf(t)) ?? 0),
    ],
    box,
  );
  void plot;
  // The same figures as a table for screen readers (a canvas says nothing).
  const text = table(
    "Daily usage",
    ["Day", "Peak seats", "Denials", "Seat-hours", "Overdraft peak", "Overdraft seat-minutes"],
    x
      .filter((t) => at(t) || seatHours.has(dayOf(t)))
      .map((t) => {
        const d = at(t);
        return [dayOf(t), d?.peak_seats ?? 0, d?.denials ?? 0, (seatHours.get(dayOf(t)) ?? 0).toFixed(2), d?.overdraft_peak ?? 0, d?.overdraft_seat_minutes ?? 0];
      }),
    "",
  );
  text.classList.add("visually-hidden");
  box.append(caption, text);
  return box;
}

/** Yesterday's signed usage statement (UTC): its figures and the JWS as a download. */
async function statementSection(licenseId: string): Promise<HTMLElement> {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const section = h("section", { "aria-labelledby": "statement-title" }, h("h2", { id: "statement-title" }, `Signed statement, ${day}`));
  const result = await api.GET("/api/v1/admin/licenses/{license_id}/statements/{day}", { params: { path: { license_id: licenseId, day } } });
  if (!result.response.ok || !result.data) {
    const failure = new ApiFailure(result.response.status, result.error);
    section.append(h("p", { class: "empty" }, `No statement for ${day}: ${failure.message}`));
    return section;
  }
  const s = result.data;
  const button = h("button", { type: "button", id: "download-statement" }, "Download statement");
  // The whole answer as JSON: the file `license usage verify-statement` reads.
  button.addEventListener("click", () => saveBlob(new Blob([`${JSON.stringify(s, null, 2)}\n`], { type: "application/json" }), `statement-${licenseId}-${s.day}.json`));
  section.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Peak seats"),
      h("dd", {}, `${s.peak_seats} of ${s.seats_total}` + (s.overdraft_peak ? ` (${s.overdraft_peak} over)` : "")),
      h("dt", {}, "Seat-hours"),
      h("dd", {}, (s.seat_seconds / 3600).toFixed(2)),
      h("dt", {}, "Overdraft seat-hours"),
      h("dd", {}, (s.overdraft_seat_seconds / 3600).toFixed(2)),
      h("dt", {}, "Denials"),
      h("dd", {}, s.denials),
      h("dt", {}, "Through log entry"),
      h("dd", {}, s.through_seq),
      h("dt", {}, "Signed"),
      h("dd", {}, when(s.signed_at)),
    ),
    h(
      "p",
      { class: "hint" },
      "Signed with the tenant's key (a JWS): check the downloaded file offline with ",
      h("code", {}, "license usage verify-statement FILE --tenant … --root …"),
      ".",
    ),
    h("div", { class: "toolbar" }, button),
  );
  return section;
}

async function reportSection(licenseId: string): Promise<HTMLElement> {
  const section = h("section", { "aria-labelledby": "report-title" });
  const by = h("select", { id: "report-by" }, h("option", { value: "user" }, "user"), h("option", { value: "host" }, "host"), h("option", { value: "group" }, "group"));
  const status = h("div", { "aria-live": "polite" });
  const body = h("div");
  const range = dayRange(30);
  const load = async () => {
    const report = must(
      await api.GET("/api/v1/admin/licenses/{license_id}/report", {
        params: { path: { license_id: licenseId }, query: { ...range, by: by.value as "user" | "host" | "group", format: "json" } },
      }),
    );
    // The operation also answers CSV and NDJSON (strings); format=json is the object.
    if (typeof report === "string") throw new Error("the report is not JSON");
    // Totals per key over the range: the report has one row per key and day.
    const totals = new Map<string, { peak: number; seconds: number; denials: number }>();
    for (const row of report.rows) {
      const key = row.key ?? "(unnamed)";
      const t = totals.get(key) ?? { peak: 0, seconds: 0, denials: 0 };
      t.peak = Math.max(t.peak, row.peak_seats);
      t.seconds += row.seat_seconds;
      t.denials += row.denials;
      totals.set(key, t);
    }
    body.replaceChildren(
      table(
        `Seat time per ${by.value}`,
        [by.value === "user" ? "User" : by.value === "host" ? "Host" : "Group", "Peak seats", "Seat-hours", "Denials"],
        [...totals].map(([key, t]) => [key, t.peak, (t.seconds / 3600).toFixed(3), t.denials]),
        "No seat time in the last 30 days.",
      ),
    );
  };
  by.addEventListener("change", () => void load().catch((e) => status.replaceChildren(notice("error", String(e)))));
  const csv = h("button", { type: "button", id: "download-csv" }, "Download CSV");
  csv.addEventListener("click", async () => {
    status.replaceChildren();
    try {
      await download(`/api/v1/admin/licenses/${licenseId}/report`, { ...range, by: by.value, format: "csv" }, `usage-${licenseId}-by-${by.value}.csv`);
      status.append(notice("ok", "CSV downloaded."));
    } catch (e) {
      status.append(notice("error", String(e)));
    }
  });
  section.append(
    h("h2", { id: "report-title" }, "Seat time, last 30 days"),
    h("div", { class: "toolbar" }, h("label", { for: "report-by" }, "Per"), by, csv),
    body,
    status,
  );
  await load();
  return section;
}

export async function licenseView(main: HTMLElement, id: string): Promise<() => void> {
  const license = must(await api.GET("/api/v1/admin/licenses/{license_id}", { params: { path: { license_id: id } } }));
  const live = h("section", { "aria-labelledby": "sessions-title" });
  const messages = h("div", { "aria-live": "polite" });
  const stale = h("div");
  const say = (kind: "ok" | "error") => (text: string) => {
    messages.replaceChildren(notice(kind, text));
    void refresh();
  };
  let stopped = false;
  // Replaced only when the set of sessions changes, so a form in use is not swapped under
  // the keyboard focus every 2 s.
  let shown = "";
  let shownBorrowed = "";
  let seatsNow = 0;
  const borrowedBox = h("section", { "aria-labelledby": "borrowed-title" });
  const refresh = async () => {
    const [sessions, usage, queue, borrowed] = await Promise.all([
      api.GET("/api/v1/admin/licenses/{license_id}/sessions", { params: { path: { license_id: id }, query: { limit: 100 } } }),
      api.GET("/api/v1/admin/licenses/{license_id}/usage", { params: { path: { license_id: id }, query: dayRange(1) } }),
      api.GET("/api/v1/admin/licenses/{license_id}/queue", { params: { path: { license_id: id } } }),
      loadBorrowed(id),
    ]);
    if (stopped) return;
    const borrowedKey = borrowed.map((s) => s.id).join(",");
    if (borrowedKey !== shownBorrowed || borrowedBox.childElementCount === 0) {
      shownBorrowed = borrowedKey;
      borrowedBox.replaceChildren(...borrowedContents(license, borrowed, say("ok"), say("error")));
    }
    const items = must(sessions).items;
    const seats = must(usage).live_seats;
    seatsNow = seats;
    const waiting = must(queue).waiting;
    const key = `${seats}|${items.map((s) => s.id).join(",")}|${waiting.map((w) => `${w.queue_ticket}@${w.position}`).join(",")}`;
    if (key === shown) return;
    shown = key;
    live.replaceChildren(
      h("h2", { id: "sessions-title" }, "Live sessions"),
      gauge(seats, license.seats_total, license.overdraft),
      table(
        "Live sessions",
        ["User", "Host", "Since", "Last heartbeat", ""],
        items.map((s) => [
          s.user_email ?? s.holder ?? "—",
          h("code", {}, s.hardware_id),
          h("time", { datetime: s.acquired_at, title: when(s.acquired_at) }, ago(s.acquired_at)),
          when(s.last_heartbeat_at),
          releaseForm(s, say("ok"), say("error")),
        ]),
        "No sessions: no seat is in use.",
      ),
      h("h3", {}, "Queue"),
      table(
        "Queue",
        ["Position", "Host", "Priority", "Waits until"],
        waiting.map((w) => [w.position, h("code", {}, w.hardware_id), w.priority, when(w.wait_until)]),
        license.max_wait_seconds > 0 ? "No one waits for a seat." : "No one waits: this license has no queue (max_wait_seconds is 0).",
      ),
    );
  };
  await refresh();
  const timeline = await seatTimeline(id, seatsNow, license.seats_total);
  const [usage, seatHours] = await Promise.all([
    api.GET("/api/v1/admin/licenses/{license_id}/usage", { params: { path: { license_id: id }, query: dayRange(30) } }).then(must),
    seatHoursByDay(id),
  ]);
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/licenses" }, "Licenses"), " / ", license.product),
    h("h1", {}, license.product),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, h("span", { class: `status ${license.status}` }, license.status)),
      h("dt", {}, "Seats"),
      h("dd", {}, `${license.seats_total}` + (license.overdraft ? ` + ${license.overdraft} overdraft` : "")),
      h("dt", {}, "Expires"),
      h("dd", {}, when(license.expires_at)),
      h("dt", {}, "License key"),
      h("dd", {}, h("code", { id: "license-key" }, license.license_key)),
    ),
    messages,
    stale,
    live,
    borrowedBox,
    h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Seats in use today"), timeline.element),
    h("section", { "aria-labelledby": "usage-title" }, h("h2", { id: "usage-title" }, "Usage"), usageChart(usage.days, seatHours, license.seats_total)),
    await reportSection(id),
    await statementSection(id),
    await policySection(id),
  );
  // Live updates from the seat-event stream: an entry about this license refreshes the
  // sessions and queue. Polling (every 2 s) only while the stream fails; nothing while the tab
  // is hidden (the stream is closed then, and catches up when the tab shows again).
  let polling = false;
  let busy = false;
  let again = false;
  const update = () => {
    // One refresh at a time; entries arriving meanwhile ask for one more after it.
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    refresh().then(
      () => stale.replaceChildren(),
      (e: unknown) => stale.replaceChildren(notice("error", `Live updates failed (${e instanceof Error ? e.message : String(e)}); retrying.`)),
    ).finally(() => {
      busy = false;
      if (again && !stopped) {
        again = false;
        update();
      }
    });
  };
  const mode = h("p", { id: "live-mode", class: "hint", "aria-live": "polite" });
  live.after(mode);
  const setMode = (text: string) => {
    if (mode.textContent !== text) mode.textContent = text;
  };
  const timer = setInterval(() => {
    if (polling && !document.hidden) update();
  }, POLL_MS);
  let unfollow: (() => void) | undefined;
  try {
    const after = await lastSeq();
    // Entries between the first refresh and `after` are covered by this one.
    update();
    unfollow = follow(after, {
      entry(entry) {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(entry.body) as Record<string, unknown>;
        } catch {
          return;
        }
        if (body.license_id !== id) return;
        update();
        timeline.entry(entry, body);
      },
      live() {
        polling = false;
        setMode("Live: following the event stream.");
      },
      paused() {
        setMode("Updates paused while this tab is hidden.");
      },
      resumed() {
        update();
      },
      trouble(why) {
        polling = true;
        setMode(`Event stream unavailable (${why}): polling every 2 s, reconnecting.`);
      },
    });
  } catch (e) {
    polling = true;
    setMode(`Event stream unavailable (${e instanceof Error ? e.message : String(e)}): polling every 2 s.`);
  }
  return () => {
    stopped = true;
    clearInterval(timer);
    unfollow?.();
    timeline.stop();
  };
}
