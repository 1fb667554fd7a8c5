// The console's shell: sign-in, the navigation, and a hash router (#/licenses,
// #/licenses/<id>, #/keys, #/events, #/webhooks, #/tenants). Each view renders into <main> and may return a
// stop function (the license page's event stream and fallback poll), called when the view changes.

import "uplot/dist/uPlot.min.css";
import "./style.css";

import { ApiFailure, isOperator, signIn, signOut, signedIn, tenant } from "./api";
import { h, notice } from "./dom";
import { eventsView } from "./views/events";
import { keysView } from "./views/keys";
import { licenseView } from "./views/license";
import { licensesView } from "./views/licenses";
import { tenantsView } from "./views/tenants";
import { webhooksView } from "./views/webhooks";

export type Stop = () => void;
export type View = (main: HTMLElement, arg: string | undefined) => Promise<Stop | void>;

const app = document.getElementById("app") as HTMLElement;
let stopView: Stop | void;

function signInForm(): HTMLElement {
  const input = h("input", {
    id: "credential",
    name: "credential",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "license-server console"),
    h("label", { for: "credential" }, "Tenant API key (admin scope) or operator token"),
    input,
    h(
      "p",
      { class: "hint" },
      "Kept in this tab's memory only: reloading or closing the page signs you out.",
    ),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const who = await signIn(input.value.trim());
      input.value = "";
      location.hash = who === "operator" ? "#/tenants" : "#/licenses";
      await route();
    } catch (e) {
      const message =
        e instanceof ApiFailure && e.status === 401
          ? "That credential was not accepted."
          : e instanceof ApiFailure && e.status === 403
            ? `This key may not administer (${e.body?.code ?? "forbidden"}): use an admin-scope key or the operator token.`
            : e instanceof Error
              ? e.message
              : String(e);
      status.append(notice("error", message));
    }
  });
  return form;
}

function nav(current: string): HTMLElement {
  const t = tenant();
  const link = (href: string, text: string) =>
    h("a", { href, "aria-current": current === href.slice(2).split("/")[0] ? "page" : undefined }, text);
  const links: HTMLElement[] = [];
  if (isOperator()) links.push(link("#/tenants", "Tenants"));
  if (t.picked) links.push(link("#/licenses", "Licenses"), link("#/keys", "API keys"), link("#/events", "Event log"), link("#/webhooks", "Webhooks"));
  const signOutButton = h("button", { type: "button", class: "link" }, "Sign out");
  signOutButton.addEventListener("click", () => {
    signOut();
    location.hash = "";
    void route();
  });
  return h(
    "header",
    { class: "top" },
    h("span", { class: "brand" }, "license-server"),
    h("nav", { "aria-label": "Main" }, ...links),
    h("span", { class: "who" }, isOperator() ? `operator${t.name ? ` · ${t.name}` : ""}` : "tenant key"),
    signOutButton,
  );
}

const views: Record<string, View> = {
  licenses: async (main, arg) => (arg ? licenseView(main, arg) : licensesView(main)),
  keys: keysView,
  events: eventsView,
  tenants: tenantsView,
  webhooks: webhooksView,
};

async function route(): Promise<void> {
  if (stopView) stopView();
  stopView = undefined;
  if (!signedIn()) {
    app.replaceChildren(h("main", { id: "main" }, signInForm()));
    document.getElementById("credential")?.focus();
    return;
  }
  const [name = "", arg] = location.hash.replace(/^#\/?/, "").split("/");
  let view = views[name] ? name : isOperator() ? "tenants" : "licenses";
  if (view !== "tenants" && !tenant().picked) view = "tenants";
  const main = h("main", { id: "main", tabindex: -1 });
  app.replaceChildren(nav(view), main);
  try {
    stopView = await views[view]!(main, view === name ? arg : undefined);
  } catch (e) {
    main.append(notice("error", e instanceof Error ? e.message : String(e)));
  }
}

window.addEventListener("hashchange", () => void route());
void route();
