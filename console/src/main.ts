// The console's shell: sign-in, the navigation, and a hash router (#/licenses,
// #/licenses/<id>, #/keys, #/events, #/webhooks, #/tenants). Each view renders into <main> and may return a
// stop function (the license page's event stream and fallback poll), called when the view changes.

import "uplot/dist/uPlot.min.css";
import "./style.css";

import { isOperator, signOut, signedIn, ssoUser, tenant } from "./api";
import { h, notice } from "./dom";
import { eventsView } from "./views/events";
import { keysView } from "./views/keys";
import { licenseView } from "./views/license";
import { licensesView } from "./views/licenses";
import { finishSingleSignOn, loadSettings, signInView } from "./views/signin";
import { tenantsView } from "./views/tenants";
import { webhooksView } from "./views/webhooks";

export type Stop = () => void;
export type View = (main: HTMLElement, arg: string | undefined) => Promise<Stop | void>;

const app = document.getElementById("app") as HTMLElement;
let stopView: Stop | void;

let signInMessage: string | undefined;
let expiry: ReturnType<typeof setTimeout> | undefined;

/** After a sign-in: the first view, and for single sign-on a sign-out when the ID token
 * expires (the server would refuse it from then on). */
async function signedInAs(who: "operator" | "tenant"): Promise<void> {
  signInMessage = undefined;
  const user = ssoUser();
  if (user) {
    // setTimeout holds at most 2^31-1 ms; an ID token lives far shorter.
    const delay = Math.min(Math.max(0, user.expiresAt - Date.now()), 2 ** 31 - 1);
    expiry = setTimeout(() => {
      signOut();
      signInMessage = "Your single sign-on session expired: sign in again.";
      location.hash = "";
      void route();
    }, delay);
  }
  location.hash = who === "operator" ? "#/tenants" : "#/licenses";
  await route();
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
    clearTimeout(expiry);
    signOut();
    location.hash = "";
    void route();
  });
  return h(
    "header",
    { class: "top" },
    h("span", { class: "brand" }, "license-server"),
    h("nav", { "aria-label": "Main" }, ...links),
    h("span", { class: "who" }, isOperator() ? `operator${t.name ? ` · ${t.name}` : ""}` : (ssoUser()?.name ?? "tenant key")),
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
    app.replaceChildren(h("main", { id: "main" }, signInView(signedInAs, signInMessage)));
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
// The settings first (whether to offer single sign-on), then a return from the provider if
// this page load is one, then the view.
void (async () => {
  await loadSettings();
  const returned = await finishSingleSignOn();
  if (returned && "who" in returned) return signedInAs(returned.who);
  if (returned) signInMessage = returned.error;
  await route();
})();
