// The subscriptions list: filters by status and deployment, pages of PAGE_SIZE.

import { gql } from "./api.js";
import { date, h, newId, number, table, words } from "./dom.js";
import { go, link, state } from "./nav.js";

const PAGE_SIZE = 10;
const STATUSES = ["ACTIVE", "PENDING", "EXPIRED", "CANCELLED"];
const DEPLOYMENTS = ["GITLAB_COM", "SELF_MANAGED", "DEDICATED"];

function filter(label, name, values, current, params) {
  const id = newId(name);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h(
      "select",
      {
        id,
        name,
        onchange: (event) => {
          const next = new URLSearchParams(params);
          next.delete("after");
          next.delete("page");
          if (event.target.value) next.set(name, event.target.value);
          else next.delete(name);
          go("/subscriptions", next);
        },
      },
      h("option", { value: "" }, "Any"),
      values.map((value) => h("option", { value, selected: value === current }, words(value))),
    ),
  );
}

export async function subscriptionsPage(params) {
  const status = params.get("status") || null;
  const deployment = params.get("deployment") || null;
  const after = params.get("after") || null;
  const page = Number(params.get("page") || "1");
  const data = await gql("Subscriptions", {
    first: PAGE_SIZE,
    after,
    status,
    deployment,
    customerId: state.customerId,
  });
  const connection = data.subscriptions;
  const rows = connection.edges.map(({ node }) => [
    link(`/subscriptions/${encodeURIComponent(node.id)}`, null, node.name),
    words(node.plan),
    words(node.deployment),
    h("span", { class: `status ${node.status.toLowerCase()}` }, words(node.status)),
    number(node.seats),
    date(node.endDate),
  ]);
  const next = new URLSearchParams(params);
  next.set("after", connection.pageInfo.endCursor || "");
  next.set("page", String(page + 1));
  const first = new URLSearchParams(params);
  first.delete("after");
  first.delete("page");
  return [
    h("h1", {}, "Subscriptions"),
    h(
      "form",
      { class: "filters", "aria-label": "Filter subscriptions", onsubmit: (e) => e.preventDefault() },
      filter("Status", "status", STATUSES, status, params),
      filter("Deployment", "deployment", DEPLOYMENTS, deployment, params),
    ),
    rows.length
      ? table(
          `${connection.totalCount} subscriptions, page ${page}`,
          ["Name", "Plan", "Deployment", "Status", "Seats", "Ends"],
          rows,
        )
      : h("p", { role: "status" }, "No subscriptions match."),
    h(
      "nav",
      { class: "pages", "aria-label": "Pages" },
      page > 1 ? link("/subscriptions", first, "First page") : null,
      connection.pageInfo.hasNextPage ? link("/subscriptions", next, "Next page") : null,
    ),
  ];
}
