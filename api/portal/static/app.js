// The customer portal: sign-in, the header (customer switch, sign out) and the pages, routed
// by the URL's fragment (#/subscriptions, #/subscriptions/<id>, #/groups, #/trials).

import { ApiError, SignedOut, configure, gql } from "./api.js";
import { SignInError, completeSignIn, session, signIn, signOut } from "./auth.js";
import { errorMessage, h } from "./dom.js";
import { groupsPage } from "./groups.js";
import { subscriptionPage } from "./subscription.js";
import { subscriptionsPage } from "./subscriptions.js";
import { go, state } from "./nav.js";
import { trialsPage } from "./trials.js";

const config = JSON.parse(document.getElementById("portal-config").textContent);
configure(config);

const CUSTOMER = "provision.portal.customer";

const main = document.getElementById("main");
const top = document.getElementById("top");

function route() {
  const [path, query = ""] = (location.hash.replace(/^#/, "") || "/subscriptions").split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query) };
}

function header() {
  const signedIn = Boolean(state.viewer);
  const customers = state.viewer?.customers.edges.map((edge) => edge.node) || [];
  const here = route().parts[0] || "subscriptions";
  const item = (path, label) =>
    h(
      "li",
      {},
      h("a", { href: `#/${path}`, "aria-current": here === path ? "page" : null }, label),
    );
  const switcher =
    customers.length > 1
      ? h(
          "label",
          { class: "customer" },
          "Customer ",
          h(
            "select",
            {
              id: "customer",
              onchange: (event) => {
                state.customerId = event.target.value;
                sessionStorage.setItem(CUSTOMER, state.customerId);
                go("/subscriptions");
                render();
              },
            },
            customers.map((c) =>
              h("option", { value: c.id, selected: c.id === state.customerId }, c.company),
            ),
          ),
        )
      : customers.length === 1
        ? h("span", { class: "customer" }, customers[0].company)
        : null;
  top.replaceChildren(
    h("a", { class: "brand", href: "#/subscriptions" }, "Provision"),
    signedIn
      ? h(
          "nav",
          { "aria-label": "Portal" },
          h(
            "ul",
            {},
            item("subscriptions", "Subscriptions"),
            item("groups", "GitLab.com groups"),
            item("trials", "Trials"),
          ),
        )
      : null,
    signedIn ? switcher : null,
    signedIn
      ? h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: async () => {
              await signOut(config);
              state.viewer = null;
              showSignedOut("You are signed out.");
            },
          },
          "Sign out",
        )
      : null,
  );
}

function showSignedOut(message, isError = false) {
  header();
  main.replaceChildren(
    h("h1", {}, "Provision customer portal"),
    h("p", {}, "Your subscriptions, licenses, usage, GitLab.com groups and trials."),
    message ? (isError ? errorMessage(message) : h("p", { role: "status" }, message)) : null,
    h(
      "button",
      { type: "button", id: "sign-in", onclick: () => signIn(config) },
      "Sign in",
    ),
  );
  document.title = "Sign in · Provision";
}

async function loadViewer() {
  const data = await gql("Viewer");
  state.viewer = data.viewer;
  const customers = data.viewer.customers.edges.map((edge) => edge.node);
  const saved = sessionStorage.getItem(CUSTOMER);
  state.customerId = customers.some((c) => c.id === saved) ? saved : customers[0]?.id || null;
}

const PAGES = {
  subscriptions: (parts, params) =>
    parts.length > 1 ? subscriptionPage(parts[1]) : subscriptionsPage(params),
  groups: () => groupsPage(),
  trials: () => trialsPage(),
};

let rendering = 0;
async function render() {
  const ticket = ++rendering;
  if (!session()) {
    showSignedOut(null);
    return;
  }
  try {
    if (!state.viewer) await loadViewer();
    header();
    const { parts, params } = route();
    const page = PAGES[parts[0]] || PAGES.subscriptions;
    const content = await page(parts, params);
    if (ticket !== rendering) return; // a newer navigation won
    main.replaceChildren(...content);
    const heading = main.querySelector("h1");
    document.title = `${heading ? heading.textContent : "Portal"} · Provision`;
    main.focus({ preventScroll: true });
  } catch (error) {
    if (ticket !== rendering) return;
    if (error instanceof SignedOut) {
      state.viewer = null;
      showSignedOut("Your sign-in has ended; sign in again.");
    } else if (error instanceof ApiError) {
      main.replaceChildren(h("h1", {}, "Something went wrong"), errorMessage(error.message));
    } else {
      throw error;
    }
  }
}

async function start() {
  try {
    await completeSignIn(config);
  } catch (error) {
    if (!(error instanceof SignInError)) throw error;
    showSignedOut(error.message, true);
    return;
  }
  window.addEventListener("hashchange", render);
  await render();
}

state.rerender = render;
start();
