// A license's policy (docs/policies.md): its groups and rules as tables, and the whole policy
// edited as the API's JSON (the API takes JSON only; the options-file form is the CLI's). A
// refused policy shows the server's message, which names the field and the entry.

import { ApiFailure, api, must, type Schemas } from "../api";
import { h, notice, table } from "../dom";

type Policy = Schemas["PolicyDto"];
type Rule = Schemas["RuleDto"];

/** A rule as the options file writes it (`reserve 2 eng`, `max 1 user:ada@example.com`). */
function ruleText(r: Rule): string {
  switch (r.rule) {
    case "reserve":
      return `reserve ${r.seats ?? "?"} ${r.group ?? "?"}`;
    case "max":
      return `max ${r.seats ?? "?"} ${r.target ? `${r.target.kind}:${r.target.value}` : "?"}`;
    case "priority":
      return `priority ${r.level ?? "?"} ${r.group ?? "?"}`;
    default:
      return `${r.rule} ${r.group ?? "?"}`;
  }
}

export async function policySection(licenseId: string): Promise<HTMLElement> {
  const section = h("section", { "aria-labelledby": "policy-title" });
  const shown = h("div");
  const messages = h("div", { "aria-live": "polite" });
  const text = h("textarea", { id: "policy-json", rows: 10, cols: 80, spellcheck: "false" });
  const render = (policy: Policy) => {
    const groups = policy.groups ?? [];
    const rules = policy.rules ?? [];
    shown.replaceChildren(
      groups.length === 0 && rules.length === 0
        ? h("p", { class: "empty" }, "No policy: anyone holding the license key may take any free seat.")
        : h(
            "div",
            {},
            table(
              "Groups",
              ["Group", "Members"],
              groups.map((g) => [h("code", {}, g.name), g.members.map((m) => `${m.kind}:${m.value}`).join(", ")]),
              "No groups.",
            ),
            table("Rules", ["Rule"], rules.map((r) => [h("code", {}, ruleText(r))]), "No rules."),
          ),
    );
    text.value = JSON.stringify({ groups, rules }, null, 2);
  };
  const save = h("button", { type: "submit" }, "Save policy");
  const form = h(
    "form",
    { "aria-label": "Edit policy" },
    h("label", { for: "policy-json" }, "Policy (JSON: groups and rules; {} clears it)"),
    text,
    h("div", { class: "toolbar" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.replaceChildren();
    let body: Policy;
    try {
      body = JSON.parse(text.value) as Policy;
    } catch (e) {
      messages.append(notice("error", `Not JSON: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    try {
      const saved = must(await api.PUT("/api/v1/admin/licenses/{license_id}/policy", { params: { path: { license_id: licenseId } }, body }));
      render(saved);
      messages.append(notice("ok", "Policy saved: it applies from the next grant."));
    } catch (e) {
      messages.append(notice("error", e instanceof ApiFailure ? e.message : String(e)));
    }
  });
  render(must(await api.GET("/api/v1/admin/licenses/{license_id}/policy", { params: { path: { license_id: licenseId } } })));
  section.append(h("h2", { id: "policy-title" }, "Policy"), shown, form, messages);
  return section;
}
