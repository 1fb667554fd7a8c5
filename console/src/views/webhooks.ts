// Webhook endpoints (docs/openapi.json, /api/v1/admin/webhooks): the list, a form to create one
// (its signing secret shown once), enable/disable, delete, and per endpoint its deliveries and
// a redelivery from a log number.

import { ApiFailure, api, must, type Schemas } from "../api";
import { h, notice, table, when } from "../dom";

type Webhook = Schemas["WebhookDto"];

function state(w: Webhook): string {
  if (!w.enabled) return w.disabled_reason ? `disabled: ${w.disabled_reason}` : "disabled";
  if (w.failing_since) return `failing since ${when(w.failing_since)} (${w.attempts} attempts)`;
  return "enabled";
}

export async function webhooksView(main: HTMLElement): Promise<void> {
  const list = h("section", { "aria-labelledby": "webhooks-title" });
  const detail = h("section", { "aria-labelledby": "deliveries-title", hidden: true });
  const messages = h("div", { "aria-live": "polite" });
  const fail = (e: unknown) => messages.replaceChildren(notice("error", e instanceof ApiFailure ? e.message : String(e)));

  const showDeliveries = async (w: Webhook) => {
    const deliveries = must(
      await api.GET("/api/v1/admin/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: w.id }, query: { limit: 50 } } }),
    ).items;
    const from = h("input", { id: "redeliver-from", type: "number", min: 1, required: true, value: Math.max(1, w.cursor) });
    const redeliver = h(
      "form",
      { class: "toolbar", "aria-label": "Redeliver" },
      h("label", { for: "redeliver-from" }, "Send again from log entry"),
      from,
      h("button", { type: "submit" }, "Redeliver"),
    );
    redeliver.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const r = await api.POST("/api/v1/admin/webhooks/{webhook_id}/redeliver", {
          params: { path: { webhook_id: w.id } },
          body: { from_seq: Number(from.value) },
        });
        if (!r.response.ok) throw new ApiFailure(r.response.status, r.error);
        messages.replaceChildren(notice("ok", `Entries from ${from.value} will be sent again to ${w.url}.`));
      } catch (e) {
        fail(e);
      }
    });
    const reload = h("button", { type: "button" }, "Refresh deliveries");
    reload.addEventListener("click", () => void showDeliveries(w).catch(fail));
    detail.hidden = false;
    detail.replaceChildren(
      h("h2", { id: "deliveries-title" }, `Deliveries to ${w.url}`),
      h("div", { class: "toolbar" }, reload),
      table(
        "Deliveries",
        ["Entry", "When", "Result", "Status", "Time", "Error"],
        deliveries.map((d) => [
          d.seq,
          when(d.attempted_at),
          h("span", { class: `status ${d.ok ? "active" : "suspended"}` }, d.ok ? "delivered" : "failed"),
          d.status_code ?? "—",
          `${d.duration_ms} ms`,
          d.error ?? "",
        ]),
        "No deliveries yet.",
      ),
      redeliver,
    );
  };

  const render = async () => {
    const hooks = must(await api.GET("/api/v1/admin/webhooks")).items;
    list.replaceChildren(
      h("h1", { id: "webhooks-title" }, "Webhooks"),
      table(
        "Webhook endpoints",
        ["URL", "Description", "Events", "State", "Last entry handled", ""],
        hooks.map((w) => {
          const toggle = h("button", { type: "button", "aria-label": `${w.enabled ? "Disable" : "Enable"} ${w.url}` }, w.enabled ? "Disable" : "Enable");
          toggle.addEventListener("click", async () => {
            try {
              must(await api.PATCH("/api/v1/admin/webhooks/{webhook_id}", { params: { path: { webhook_id: w.id } }, body: { enabled: !w.enabled } }));
              messages.replaceChildren(notice("ok", `${w.enabled ? "Disabled" : "Enabled"} ${w.url}.`));
              await render();
            } catch (e) {
              fail(e);
            }
          });
          const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete ${w.url}` }, "Delete");
          remove.addEventListener("click", async () => {
            try {
              const r = await api.DELETE("/api/v1/admin/webhooks/{webhook_id}", { params: { path: { webhook_id: w.id } } });
              if (!r.response.ok) throw new ApiFailure(r.response.status, r.error);
              messages.replaceChildren(notice("ok", `Deleted ${w.url}.`));
              detail.hidden = true;
              await render();
            } catch (e) {
              fail(e);
            }
          });
          const show = h("button", { type: "button", "aria-label": `Deliveries to ${w.url}` }, "Deliveries");
          show.addEventListener("click", () => void showDeliveries(w).catch(fail));
          return [
            h("code", {}, w.url),
            w.description,
            w.event_types.length === 0 ? "all" : w.event_types.join(", "),
            state(w),
            w.cursor,
            h("span", { class: "actions" }, show, toggle, remove),
          ];
        }),
        "No webhook endpoints.",
      ),
    );
  };

  const url = h("input", { id: "webhook-url", type: "url", required: true, maxlength: 2000, placeholder: "https://example.com/hooks/license" });
  const description = h("input", { id: "webhook-description", maxlength: 200 });
  const types = h("input", { id: "webhook-types", placeholder: "granted, released, denied (empty: all)" });
  const form = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "new-webhook-title" },
    h("h2", { id: "new-webhook-title" }, "New endpoint"),
    h("label", { for: "webhook-url" }, "URL"),
    url,
    h("label", { for: "webhook-description" }, "Description"),
    description,
    h("label", { for: "webhook-types" }, "Event types"),
    types,
    h("button", { type: "submit" }, "Create endpoint"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const event_types = types.value
      .split(/[\s,]+/)
      .map((t) => t.trim())
      .filter((t) => t !== "");
    try {
      const created = must(await api.POST("/api/v1/admin/webhooks", { body: { url: url.value.trim(), description: description.value.trim(), event_types } }));
      url.value = "";
      description.value = "";
      types.value = "";
      const copy = h("button", { type: "button" }, "Copy");
      copy.addEventListener("click", () => void navigator.clipboard?.writeText(created.secret));
      messages.replaceChildren(
        h(
          "div",
          { class: "notice ok", role: "status" },
          h("p", {}, `Endpoint ${created.url} created. Copy its signing secret now: it is not shown again.`),
          h("code", { id: "new-webhook-secret", class: "secret" }, created.secret),
          copy,
        ),
      );
      await render();
    } catch (e) {
      fail(e);
    }
  });
  await render();
  main.append(messages, list, detail, form);
}
