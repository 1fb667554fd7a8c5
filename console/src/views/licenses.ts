// Licenses: each with a seat gauge (in use / total / overdraft), status and expiry; and a form
// to create one.

import { ApiFailure, api, must, type Schemas } from "../api";
import { gauge, h, notice, table, when } from "../dom";

type License = Schemas["LicenseDto"];

/** Seats in use now: the usage figures' `live_seats` (the license list does not carry it). */
async function liveSeats(id: string): Promise<number | undefined> {
  const today = new Date().toISOString().slice(0, 10);
  const { data } = await api.GET("/api/v1/admin/licenses/{license_id}/usage", {
    params: { path: { license_id: id }, query: { from: today, to: today } },
  });
  return data?.live_seats;
}

function createForm(onCreated: (license: License) => void): HTMLElement {
  const product = h("input", { id: "new-product", name: "product", required: true, maxlength: 200 });
  const seats = h("input", { id: "new-seats", name: "seats_total", type: "number", min: 1, value: 5, required: true });
  const overdraft = h("input", { id: "new-overdraft", name: "overdraft", type: "number", min: 0, value: 0 });
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "create-license-title" },
    h("h2", { id: "create-license-title" }, "New license"),
    h("label", { for: "new-product" }, "Product"),
    product,
    h("label", { for: "new-seats" }, "Seats"),
    seats,
    h("label", { for: "new-overdraft" }, "Overdraft seats"),
    overdraft,
    h("button", { type: "submit" }, "Create license"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const license = must(
        await api.POST("/api/v1/admin/licenses", {
          body: { product: product.value.trim(), seats_total: Number(seats.value), overdraft: Number(overdraft.value) },
        }),
      );
      product.value = "";
      onCreated(license);
    } catch (e) {
      status.append(notice("error", e instanceof ApiFailure ? e.message : String(e)));
    }
  });
  return form;
}

export async function licensesView(main: HTMLElement): Promise<void> {
  const list = h("section", { "aria-labelledby": "licenses-title" });
  const render = async () => {
    const page = must(await api.GET("/api/v1/admin/licenses", { params: { query: { limit: 100 } } }));
    const live = await Promise.all(page.items.map((l) => liveSeats(l.id)));
    const rows = page.items.map((l, i) => [
      h("a", { href: `#/licenses/${l.id}` }, l.product),
      gauge(live[i] ?? 0, l.seats_total, l.overdraft, `Seats in use, ${l.product}`),
      h("span", { class: `status ${l.status}` }, l.status),
      when(l.expires_at),
      h("code", {}, l.license_key),
    ]);
    list.replaceChildren(
      h("h1", { id: "licenses-title" }, "Licenses"),
      table("Licenses", ["Product", "Seats in use", "Status", "Expires", "License key"], rows, "No licenses yet: create one below."),
      page.next_after ? h("p", { class: "hint" }, "Showing the first 100 licenses.") : "",
    );
  };
  await render();
  main.append(
    list,
    createForm((license) => {
      location.hash = `#/licenses/${license.id}`;
    }),
  );
}
