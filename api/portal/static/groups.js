// The GitLab.com groups the person owns or whose plan a subscription of theirs pays for.

import { gql } from "./api.js";
import { bytes, dateTime, h, number, table, words } from "./dom.js";
import { link } from "./nav.js";

// What Provision asked GitLab.com to do for a group, step by step, as a customer may see it.
export function provisioningSteps(namespace) {
  const steps = namespace.provisioningSteps || [];
  if (!steps.length) return h("p", {}, "No provisioning step recorded for this group yet.");
  return table(
    `Provisioning of ${namespace.path} on GitLab.com, newest first`,
    ["Step", "State", "Attempts", "Recorded", "Last change"],
    steps.map((step) => [
      step.description,
      h("span", { class: `state ${step.state.toLowerCase()}` }, words(step.state)),
      number(step.attempts),
      dateTime(step.createdAt),
      dateTime(step.updatedAt),
    ]),
  );
}

export async function groupsPage() {
  const data = await gql("Namespaces");
  const groups = data.namespaces.edges.map((edge) => edge.node);
  if (!groups.length) return [h("h1", {}, "GitLab.com groups"), h("p", {}, "You own no GitLab.com group we know of.")];
  return [
    h("h1", {}, "GitLab.com groups"),
    table(
      "Your groups",
      ["Group", "Plan", "Paid by", "Billable members", "Compute minutes", "Storage"],
      groups.map((g) => [
        g.path,
        words(g.plan),
        g.subscription ? link(`/subscriptions/${encodeURIComponent(g.subscription.id)}`, null, g.subscription.name) : "—",
        number(g.billableMembers),
        number(g.computeMinutesUsed),
        bytes(g.storageUsedBytes),
      ]),
    ),
    groups
      .filter((g) => g.subscription)
      .map((g) => h("section", { "aria-label": `Provisioning of ${g.path}` }, h("h2", {}, `Provisioning of ${g.path}`), provisioningSteps(g))),
  ];
}
