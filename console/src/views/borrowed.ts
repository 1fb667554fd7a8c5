// A license's borrowed seats (offline work until their end): who, which host, since, until,
// and a revoke (a force-release of the borrow's session; the API has no other). Revoking
// frees the seat at once, but the client's lease token stays valid offline until its end: the
// page says so, as the API does.

import { ApiFailure, api, must, type Schemas } from "../api";
import { ago, h, table, when } from "../dom";

type Session = Schemas["SessionDto"];

/** The license's live borrowed sessions (the first 100, oldest first). */
export async function loadBorrowed(licenseId: string): Promise<Session[]> {
  return must(
    await api.GET("/api/v1/admin/licenses/{license_id}/borrowed", {
      params: { path: { license_id: licenseId }, query: { limit: 100 } },
    }),
  ).items;
}

function revokeButton(session: Session, onDone: (message: string) => void, onError: (message: string) => void): HTMLElement {
  const button = h("button", { type: "button", class: "danger", "aria-label": `Revoke borrow of ${session.hardware_id}` }, "Revoke");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      must(
        await api.POST("/api/v1/admin/sessions/{session_id}/release", {
          params: { path: { session_id: session.id }, query: { reason: "borrow revoked from the web console" } },
        }),
      );
      onDone(`Revoked the borrow of ${session.hardware_id}: its seat is free; the client learns it at its next check-in.`);
    } catch (e) {
      button.disabled = false;
      onError(e instanceof ApiFailure ? e.message : String(e));
    }
  });
  return button;
}

/** The borrowed-seats section's contents (its heading, a hint, the table). */
export function borrowedContents(
  license: Schemas["LicenseDto"],
  items: Session[],
  onDone: (message: string) => void,
  onError: (message: string) => void,
): Node[] {
  const lends = license.max_borrow_seconds > 0;
  const cap = license.max_borrowed_seats;
  return [
    h("h2", { id: "borrowed-title" }, "Borrowed seats"),
    h(
      "p",
      { class: "hint" },
      lends
        ? `Lent for offline work for up to ${Math.round(license.max_borrow_seconds / 3600)} h` +
            (cap !== undefined ? `, at most ${cap} at once` : "") +
            ". Revoking frees the seat at once; the client's token stays valid offline until its end."
        : "This license lends no seats (max_borrow_seconds is 0).",
    ),
    table(
      "Borrowed seats",
      ["User", "Host", "Since", "Until", ""],
      items.map((s) => [
        s.user_email ?? s.holder ?? "—",
        h("code", {}, s.hardware_id),
        h("time", { datetime: s.acquired_at, title: when(s.acquired_at) }, ago(s.acquired_at)),
        h("time", { datetime: s.expires_at }, when(s.expires_at)),
        revokeButton(s, onDone, onError),
      ]),
      "No seat is borrowed.",
    ),
  ];
}
