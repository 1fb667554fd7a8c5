// A tiny DOM builder: elements from code, never from HTML strings, so nothing the API returns
// is parsed as markup (and the CSP needs no inline script or style).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** `h("button", { type: "button", onclick }, "Text")`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  el.append(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map(toNode));
  return el;
}

function toNode(c: Node | string | number): Node | string {
  return typeof c === "number" ? String(c) : c;
}

/** A date-time as the reader's local time, to the second. */
export function when(instant: string | undefined): string {
  if (!instant) return "—";
  const d = new Date(instant);
  return Number.isNaN(d.getTime()) ? instant : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** How long ago, roughly ("3 min ago"). */
export function ago(instant: string): string {
  const s = Math.max(0, Math.round((Date.now() - new Date(instant).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A table with a caption, headers and rows; `empty` when there are no rows. */
export function table(caption: string, headers: string[], rows: Child[][], empty: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    // A column of buttons has no visible title; its header still names it for screen readers.
    h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", { scope: "col" }, t === "" ? h("span", { class: "visually-hidden" }, "Actions") : t)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

/** A seat gauge: in use against total, the overdraft part marked. An ARIA meter with a name
 * and a text equivalent, so it is read out and does not rely on colour. */
export function gauge(inUse: number, total: number, overdraft: number, name = "Seats in use"): HTMLElement {
  const max = total + overdraft;
  const bar = h("div", { class: "gauge-bar" });
  const used = h("div", { class: "gauge-used" + (inUse > total ? " over" : "") });
  // Widths through the CSSOM: allowed by `style-src 'self'` (only style attributes are not).
  used.style.width = `${max === 0 ? 0 : Math.min(100, (inUse / max) * 100)}%`;
  bar.append(used);
  if (overdraft > 0) {
    const mark = h("div", { class: "gauge-total" });
    mark.style.left = `${(total / max) * 100}%`;
    bar.append(mark);
  }
  const text = `${inUse} / ${total}` + (overdraft > 0 ? ` (+${overdraft} overdraft)` : "");
  return h(
    "div",
    {
      class: "gauge",
      role: "meter",
      "aria-label": name,
      "aria-valuemin": 0,
      "aria-valuemax": max,
      "aria-valuenow": inUse,
      "aria-valuetext": `${text} seats in use`,
    },
    bar,
    h("span", { class: "gauge-text" }, text),
  );
}

/** A status line for errors and confirmations, announced by screen readers. */
export function notice(kind: "error" | "ok", text: string): HTMLElement {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** Hands a Blob to the browser as a file download (a temporary object URL). */
export function saveBlob(blob: Blob, filename: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
