// The license page's live seat timeline: seats in use over the last hours of today (UTC) as a
// uPlot step chart that grows live. Context comes from the report by hour (each hour's peak);
// the live line is a minute-resolution series kept in memory, anchored on the seats in use at
// load and moved by the event stream's entries about this license (docs/events.md): granted
// and borrowed +1 (or their `in_use`, the ledger's own count), released, returned, evicted,
// revoked and expired −1, rebuilt sets `seats`. A text summary (now, peak in view) stands in
// for the canvas for keyboard and screen-reader users.

import uPlot from "uplot";

import { api, must, type Schemas } from "../api";
import { h } from "../dom";

/** Hours of context before now (clamped to today's UTC midnight). */
const HOURS = 2;
const MINUTE = 60;
const HOUR = 3_600;

const UP = new Set(["granted", "borrowed"]);
const DOWN = new Set(["released", "returned", "evicted", "revoked", "expired"]);

/** What the page hands the timeline. */
export interface Timeline {
  element: HTMLElement;
  /** An entry of the log about this license. */
  entry(entry: Schemas["EventLogEntry"], body: Record<string, unknown>): void;
  stop(): void;
}

const floorTo = (t: number, step: number) => Math.floor(t / step) * step;
const nowSeconds = () => Date.now() / 1000;
const hhmm = (t: number) => new Date(t * 1000).toISOString().slice(11, 16);

/** Each hour's peak seats today (UTC), by the hour's start in seconds. */
async function hourlyPeaks(licenseId: string): Promise<Map<number, number>> {
  const today = new Date().toISOString().slice(0, 10);
  const report = must(
    await api.GET("/api/v1/admin/licenses/{license_id}/report", {
      params: { path: { license_id: licenseId }, query: { from: today, to: today, bucket: "hour", format: "json" } },
    }),
  );
  if (typeof report === "string") throw new Error("the report is not JSON");
  return new Map(report.rows.map((r) => [Date.parse(r.start) / 1000, r.peak_seats]));
}

export async function seatTimeline(licenseId: string, seatsNow: number, seatsTotal: number): Promise<Timeline> {
  const peaks = await hourlyPeaks(licenseId);
  const loaded = floorTo(nowSeconds(), MINUTE);
  const start = Math.max(floorTo(nowSeconds(), 86_400), floorTo(nowSeconds(), HOUR) - (HOURS - 1) * HOUR);
  let current = seatsNow;
  // Per minute (its start, seconds): the most seats in use during it.
  const minutes = new Map<number, number>([[loaded, current]]);

  const box = h("figure", { class: "chart" });
  const caption = h(
    "figcaption",
    { id: "timeline-caption" },
    "Seats in use today (UTC), last hours: each hour's peak from the usage report, and a minute-by-minute line kept live from the event stream since this page opened.",
  );
  const summary = h("p", { id: "timeline-summary", class: "chart-summary" });
  const canvas = h("div", { "aria-hidden": "true" });
  box.append(canvas, caption, summary);

  const style = getComputedStyle(document.documentElement);
  const color = (name: string) => style.getPropertyValue(name).trim() || "#888";
  const width = Math.min(900, Math.max(320, (document.querySelector("main")?.clientWidth ?? 900) - 40));
  const stepped = uPlot.paths.stepped?.({ align: 1 });

  const data = (): uPlot.AlignedData => {
    // The last point is now itself, so the live line reaches the present.
    const now = nowSeconds();
    const xs = new Set<number>();
    for (let t = start; t <= now; t += HOUR) xs.add(t);
    for (const t of minutes.keys()) if (t >= start) xs.add(t);
    xs.add(now);
    const x = [...xs].sort((a, b) => a - b);
    const live = [...minutes].sort((a, b) => a[0] - b[0]);
    // A minute with no entry of its own holds the count the minute before left.
    const liveAt = (t: number): number | null => {
      if (t < loaded) return null;
      if (t === now) return current;
      let v: number | null = null;
      for (const [m, n] of live) {
        if (m > t) break;
        v = n;
      }
      return v;
    };
    const hourPeak = (t: number) => {
      const hour = floorTo(t, HOUR);
      let peak = peaks.get(hour) ?? 0;
      // The hour in progress: the report may lag the stream.
      for (const [m, n] of minutes) if (floorTo(m, HOUR) === hour) peak = Math.max(peak, n);
      return peak;
    };
    return [x, x.map(hourPeak), x.map(liveAt)];
  };

  const plot = new uPlot(
    {
      width,
      height: 200,
      // The axis in UTC, as the report's hours and the summary.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        x: { time: true, range: () => [start, floorTo(nowSeconds(), MINUTE) + 5 * MINUTE] },
        y: { range: (_u, _min, max) => [0, Math.max(seatsTotal, max ?? 0) + 1] },
      },
      axes: [
        { stroke: color("--fg"), grid: { stroke: color("--grid") }, ticks: { stroke: color("--grid") } },
        { stroke: color("--fg"), grid: { stroke: color("--grid") }, ticks: { stroke: color("--grid") } },
      ],
      series: [
        {},
        { label: "Hourly peak", stroke: color("--muted"), width: 1, dash: [4, 4], paths: stepped, points: { show: false } },
        // Points too, so a line only seconds long (a page just opened) is seen.
        { label: "Seats in use (live)", stroke: color("--accent"), width: 3, paths: stepped, points: { show: true, size: 6, fill: color("--accent") } },
      ],
    },
    data(),
    canvas,
  );

  const say = () => {
    const [x, hourly, live] = data() as [number[], (number | null)[], (number | null)[]];
    // The peak in view and where: a minute of the live line, else an hour of the report.
    let peak = 0;
    let where = "";
    x.forEach((t, i) => {
      const l = live[i] ?? 0;
      const p = hourly[i] ?? 0;
      if (l > peak) {
        peak = l;
        where = `at ${hhmm(t)} UTC`;
      }
      if (p > peak) {
        peak = p;
        where = `in the hour from ${hhmm(floorTo(t, HOUR))} UTC`;
      }
    });
    const text =
      `Seats in use now: ${current} of ${seatsTotal}. ` +
      (peak > 0 ? `Peak in view (since ${hhmm(start)} UTC): ${peak}, ${where}.` : `No seat in use since ${hhmm(start)} UTC.`);
    if (summary.textContent !== text) summary.textContent = text;
  };
  const redraw = () => {
    plot.setData(data());
    say();
  };
  say();
  // The line grows with time even when nothing happens.
  const timer = setInterval(() => {
    const m = floorTo(nowSeconds(), MINUTE);
    if (!minutes.has(m)) minutes.set(m, current);
    redraw();
  }, 15_000);

  return {
    element: box,
    entry(entry, body) {
      const type = String(body.type ?? "");
      const inUse = typeof body.in_use === "number" ? body.in_use : undefined;
      if (UP.has(type)) current = inUse ?? current + 1;
      else if (DOWN.has(type)) current = Math.max(0, current - 1);
      else if (type === "rebuilt" && typeof body.seats === "number") current = body.seats;
      else return;
      const at = Date.parse(entry.at) / 1000;
      const m = floorTo(Number.isNaN(at) ? nowSeconds() : at, MINUTE);
      // An entry older than the page (caught up after a hidden spell) counts from its minute.
      const key = Math.max(m, loaded);
      minutes.set(key, Math.max(minutes.get(key) ?? 0, current));
      // Later minutes already drawn carry the new count onwards.
      for (const t of minutes.keys()) if (t > key) minutes.set(t, current);
      redraw();
    },
    stop() {
      clearInterval(timer);
      plot.destroy();
    },
  };
}
