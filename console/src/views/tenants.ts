// Operator only: the tenants, one to act on (sent as X-Tenant-Id), and a form to create one.

import { ApiFailure, actAs, api, must, tenant } from "../api";
import { h, notice, table, when } from "../dom";

export async function tenantsView(main: HTMLElement): Promise<void> {
  const messages = h("div", { "aria-live": "polite" });
  const list = h("section", { "aria-labelledby": "tenants-title" });
  const render = async () => {
    const tenants = must(await api.GET("/api/v1/admin/tenants")).items;
    list.replaceChildren(
      h("h1", { id: "tenants-title" }, "Tenants"),
      table(
        "Tenants",
        ["Name", "Id", "Created", ""],
        tenants.map((t) => {
          const current = tenant().id === t.id;
          // The visible words begin the accessible name (WCAG 2.5.3, "label in name").
          const pick = h("button", { type: "button", "aria-label": `${current ? "Acting on it" : "Act on it"}: ${t.name}`, disabled: current }, current ? "Acting on it" : "Act on it");
          pick.addEventListener("click", () => {
            actAs(t.id, t.name);
            location.hash = "#/licenses";
          });
          return [t.name, h("code", {}, t.id), when(t.created_at), pick];
        }),
        "No tenants yet: create one below.",
      ),
    );
  };
  const name = h("input", { id: "tenant-name", required: true, maxlength: 200 });
  const form = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "new-tenant-title" },
    h("h2", { id: "new-tenant-title" }, "New tenant"),
    h("label", { for: "tenant-name" }, "Name"),
    name,
    h("button", { type: "submit" }, "Create tenant"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = must(await api.POST("/api/v1/admin/tenants", { body: { name: name.value.trim() } }));
      name.value = "";
      messages.replaceChildren(
        h(
          "div",
          { class: "notice ok", role: "status" },
          h("p", {}, `Tenant “${created.tenant.name}” created. Its admin API key, shown once:`),
          h("code", { class: "secret", id: "new-tenant-secret" }, created.admin_api_key.secret),
        ),
      );
      await render();
    } catch (e) {
      messages.replaceChildren(notice("error", e instanceof ApiFailure ? e.message : String(e)));
    }
  });
  await render();
  main.append(messages, list, form);
}
