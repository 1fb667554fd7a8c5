// API keys: the list, a form to create one (its secret shown once) and revoke buttons.

import { ApiFailure, api, must } from "../api";
import { h, notice, table, when } from "../dom";

export async function keysView(main: HTMLElement): Promise<void> {
  const list = h("section", { "aria-labelledby": "keys-title" });
  const messages = h("div", { "aria-live": "polite" });
  const fail = (e: unknown) => messages.replaceChildren(notice("error", e instanceof ApiFailure ? e.message : String(e)));
  const render = async () => {
    const keys = must(await api.GET("/api/v1/admin/api-keys")).items;
    list.replaceChildren(
      h("h1", { id: "keys-title" }, "API keys"),
      table(
        "API keys",
        ["Name", "Prefix", "Scopes", "Created", "Last used", ""],
        keys.map((k) => {
          let action: HTMLElement | string = `revoked ${when(k.revoked_at)}`;
          if (!k.revoked_at) {
            action = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${k.name}` }, "Revoke");
            action.addEventListener("click", async () => {
              try {
                must(await api.POST("/api/v1/admin/api-keys/{api_key_id}/revoke", { params: { path: { api_key_id: k.id } } }));
                messages.replaceChildren(notice("ok", `Revoked ${k.name}.`));
                await render();
              } catch (e) {
                fail(e);
              }
            });
          }
          return [k.name, h("code", {}, k.prefix), k.scopes.join(", "), when(k.created_at), when(k.last_used_at), action];
        }),
        "No API keys.",
      ),
    );
  };
  const name = h("input", { id: "key-name", required: true, maxlength: 100 });
  const client = h("input", { id: "scope-client", type: "checkbox", checked: true });
  const admin = h("input", { id: "scope-admin", type: "checkbox" });
  const form = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title" }, "New API key"),
    h("label", { for: "key-name" }, "Name"),
    name,
    h("fieldset", {}, h("legend", {}, "Scopes"), client, h("label", { for: "scope-client" }, "client"), admin, h("label", { for: "scope-admin" }, "admin")),
    h("button", { type: "submit" }, "Create key"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [client.checked && "client", admin.checked && "admin"].filter((s): s is "client" | "admin" => !!s);
    try {
      const created = must(await api.POST("/api/v1/admin/api-keys", { body: { name: name.value.trim(), scopes } }));
      name.value = "";
      const secret = h("code", { id: "new-key-secret", class: "secret" }, created.secret);
      const copy = h("button", { type: "button" }, "Copy");
      copy.addEventListener("click", () => void navigator.clipboard?.writeText(created.secret));
      messages.replaceChildren(
        h(
          "div",
          { class: "notice ok", role: "status" },
          h("p", {}, `Key “${created.name}” created. Copy its secret now: it is not shown again.`),
          secret,
          copy,
        ),
      );
      await render();
    } catch (e) {
      fail(e);
    }
  });
  await render();
  main.append(messages, list, form);
}
