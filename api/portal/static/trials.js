// Trials: each top-level group's trials, whether each kind can start (and why not), start one.

import { ApiError, gql, refusal } from "./api.js";
import { date, errorMessage, h, notice, table, words } from "./dom.js";
import { can, rerender } from "./nav.js";

const NAMES = {
  ULTIMATE: "Ultimate (30 days)",
  ULTIMATE_ON_PREMIUM: "Ultimate on Premium (30 days)",
  DUO_ENTERPRISE: "Duo Enterprise (60 days)",
};

const REASONS = {
  TRIAL_ALREADY_USED: "This group has had this trial already.",
  ALREADY_ULTIMATE: "This group is on Ultimate already.",
  NAMESPACE_NOT_TOP_LEVEL: "Trials are for top-level groups only.",
  NOT_NAMESPACE_OWNER: "Only the group's owners can start a trial.",
  TRIAL_REQUIRES_FREE_PLAN: "This trial is for groups on the Free plan.",
  TRIAL_REQUIRES_PREMIUM_PLAN: "This trial is for groups that pay for Premium.",
};

function startButton(group, type) {
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const button = h(
    "button",
    {
      type: "button",
      "aria-label": `Start the ${NAMES[type]} trial on ${group.path}`,
      onclick: async () => {
        button.disabled = true;
        outcome.replaceChildren();
        try {
          const data = await gql("ApplyTrial", { namespaceId: group.id, type });
          const refused = refusal(data.applyTrial);
          if (refused) {
            outcome.replaceChildren(errorMessage(refused));
          } else {
            await rerender();
            const shown = document.getElementById("trial-started");
            shown?.replaceChildren(
              notice(`The ${NAMES[type]} trial on ${group.path} runs until ${data.applyTrial.trial.endsOn}.`),
            );
          }
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          outcome.replaceChildren(errorMessage(error.message));
        } finally {
          button.disabled = false;
        }
      },
    },
    "Start trial",
  );
  return h("div", { class: "action" }, button, outcome);
}

export async function trialsPage() {
  const data = await gql("Namespaces");
  const groups = data.namespaces.edges.map((edge) => edge.node).filter((g) => g.topLevel);
  const parts = [h("h1", {}, "Trials"), h("div", { id: "trial-started" })];
  if (!groups.length) return [...parts, h("p", {}, "You own no top-level GitLab.com group.")];
  const eligibility = await gql("TrialEligibility", { namespaceIds: groups.map((g) => g.id) });
  const byGroup = new Map();
  for (const row of eligibility.trialEligibility) {
    if (!byGroup.has(row.namespace.id)) byGroup.set(row.namespace.id, []);
    byGroup.get(row.namespace.id).push(row);
  }
  for (const group of groups) {
    const trials = group.trials.map((t) => [NAMES[t.type] || words(t.type), words(t.status), date(t.startsOn), date(t.endsOn)]);
    const rows = (byGroup.get(group.id) || []).map((row) => [
      NAMES[row.type] || words(row.type),
      row.eligible
        ? can("trials:write") ? startButton(group, row.type) : "Can start"
        : REASONS[row.reason] || words(row.reason),
    ]);
    parts.push(
      h(
        "section",
        { "aria-label": `Trials of ${group.path}` },
        h("h2", {}, `${group.path} (${words(group.plan)})`),
        trials.length
          ? table(`Trials of ${group.path}`, ["Trial", "Status", "Started", "Ends"], trials)
          : h("p", {}, "No trial yet."),
        table(`Trials ${group.path} can start`, ["Trial", "Start, or why not"], rows),
      ),
    );
  }
  return parts;
}
