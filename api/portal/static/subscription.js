// One subscription: plan, terms and ramp segments, status, renewal, channel and partner, the
// actions the caller may take (Subscription.viewerPermissions), usage, and the self-managed or
// GitLab.com parts.

import { ApiError, gql, refusal } from "./api.js";
import { usageChart } from "./chart.js";
import {
  bytes, date, dateTime, errorMessage, facts, h, newId, notice, number, table, words,
} from "./dom.js";
import { allowed, can, rerender, state } from "./nav.js";
import { provisioningSteps } from "./groups.js";

const HISTORY_PAGES = 3;

function today() {
  return new Date().toISOString().slice(0, 10);
}

// A button that runs `action`; its outcome (an error, or what `action` returns) is shown
// right after it, where the person looks.
function actionButton(label, action, attrs = {}) {
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const button = h(
    "button",
    {
      type: "button",
      ...attrs,
      onclick: async () => {
        button.disabled = true;
        outcome.replaceChildren();
        try {
          const shown = await action();
          if (shown) outcome.replaceChildren(shown);
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          outcome.replaceChildren(errorMessage(error.message));
        } finally {
          button.disabled = false;
        }
      },
    },
    label,
  );
  return h("div", { class: "action" }, button, outcome);
}

async function download(name, text) {
  const blob = new Blob([text], { type: "application/octet-stream" });
  const url = URL.createObjectURL(blob);
  const anchor = h("a", { href: url, download: `${name}.gitlab-license`, class: "hidden" });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function overview(s) {
  const partner = s.partner ? `${s.partner.name} (${words(s.partner.kind)})` : "Sold directly";
  return h(
    "section",
    { "aria-labelledby": "overview" },
    h("h2", { id: "overview" }, "Overview"),
    facts([
      ["Customer", s.customer.company],
      ["Plan", words(s.plan)],
      ["Status", h("span", { class: `status ${s.status.toLowerCase()}` }, words(s.status))],
      ["Deployment", words(s.deployment)],
      ["Seats now", number(s.seats)],
      ["Starts", date(s.startDate)],
      ["Ends", date(s.endDate)],
      ["Renewal", s.cancelAtPeriodEnd ? "Cancelled at the end of the term" : s.autoRenew ? "Renews automatically" : "Does not renew automatically"],
      ["Channel", words(s.channel)],
      ["Partner", partner],
      ["Licensing", s.licensingMode ? words(s.licensingMode) : null],
      ["Instances allowed", s.deployment === "SELF_MANAGED" ? number(s.maxInstances) : null],
      ["Seat reconciliation", s.reconciliationEnabled ? "Quarterly" : null],
    ]),
  );
}

function terms(s) {
  const day = today();
  const rows = [];
  s.terms.forEach((term, index) => {
    term.segments.forEach((segment, position) => {
      const current = segment.startDate <= day && day < segment.endDate;
      rows.push([
        position === 0 ? `Term ${index + 1}` : "",
        term.segments.length > 1 ? `Segment ${position + 1}` : "Whole term",
        date(segment.startDate),
        date(segment.endDate),
        number(segment.seats),
        current ? h("strong", {}, "Current") : "",
      ]);
    });
  });
  const addOns = s.addOns.map((a) => [a.name, number(a.quantity), date(a.startDate), date(a.endDate)]);
  return h(
    "section",
    { "aria-labelledby": "terms" },
    h("h2", { id: "terms" }, "Terms and segments"),
    table("Terms, with the seats of each ramp segment", ["Term", "Segment", "From", "Until", "Seats", ""], rows),
    addOns.length ? table("Add-ons", ["Add-on", "Quantity", "From", "Until"], addOns) : null,
  );
}

function actions(s) {
  const items = [];
  if (allowed(s, "TOGGLE_AUTO_RENEW") && !s.cancelAtPeriodEnd && s.status !== "EXPIRED" && s.status !== "CANCELLED") {
    items.push(
      actionButton(s.autoRenew ? "Turn auto-renew off" : "Turn auto-renew on", async () => {
        const data = await gql("ChangeSubscription", {
          input: { subscriptionId: s.id, autoRenew: !s.autoRenew },
        });
        const refused = refusal(data.changeSubscription);
        if (refused) return errorMessage(refused);
        await rerender();
        return null;
      }, { id: "toggle-auto-renew" }),
    );
  }
  if (allowed(s, "ADD_SEATS") && s.status === "ACTIVE") {
    const id = newId("seats");
    const input = h("input", { id, type: "number", min: "1", step: "1", value: s.seats, required: true, inputmode: "numeric" });
    const outcome = h("div", { class: "outcome", "aria-live": "polite" });
    items.push(
      h(
        "form",
        {
          class: "inline-form",
          "aria-label": "Change seats",
          onsubmit: async (event) => {
            event.preventDefault();
            outcome.replaceChildren();
            try {
              const data = await gql("ChangeSubscription", {
                input: { subscriptionId: s.id, seats: Number(input.value) },
              });
              const refused = refusal(data.changeSubscription);
              if (refused) outcome.replaceChildren(errorMessage(refused));
              else await rerender();
            } catch (error) {
              if (!(error instanceof ApiError)) throw error;
              outcome.replaceChildren(errorMessage(error.message));
            }
          },
        },
        h("div", { class: "field" }, h("label", { for: id }, "Seats of the current segment"), input),
        h("button", { type: "submit" }, "Change seats"),
        outcome,
      ),
    );
  }
  // What the channel refuses is explained, once, instead of offered.
  const reasons = new Set(
    s.viewerPermissions.filter((p) => !p.allowed && p.code === "MANAGED_BY_PARTNER").map((p) => p.reason),
  );
  if (!items.length && !reasons.size) return null;
  return h(
    "section",
    { "aria-labelledby": "actions" },
    h("h2", { id: "actions" }, "Changes"),
    items,
    [...reasons].map((reason) => h("p", { class: "note" }, reason)),
  );
}

async function usageHistory(s) {
  const reports = [];
  let after = null;
  for (let page = 0; page < HISTORY_PAGES; page += 1) {
    const data = await gql("UsageHistory", { subscriptionId: s.id, after });
    reports.push(...data.usageReports.edges.map((edge) => edge.node));
    if (!data.usageReports.pageInfo.hasNextPage) break;
    after = data.usageReports.pageInfo.endCursor;
  }
  return reports;
}

async function usage(s) {
  const u = s.usage;
  const ns = s.namespace;
  const parts = [h("h2", { id: "usage" }, "Usage")];
  if (!u) {
    parts.push(h("p", {}, "No usage has been reported yet."));
  } else {
    parts.push(
      facts([
        ["Seats in use", number(u.seatsInUse)],
        ["Max seats used", number(u.maxSeatsUsed)],
        ["Seats", number(s.seats)],
        ["Overage", u.overage > 0 ? h("strong", { class: "warn" }, `${number(u.overage)} seats over`) : "None"],
        ["Reported", dateTime(u.reportedAt)],
        ["Next reconciliation", u.nextReconciliationDate ? date(u.nextReconciliationDate) : s.reconciliationEnabled ? "—" : null],
      ]),
    );
  }
  if (ns) {
    const minutes = s.addOns.filter((a) => a.kind === "COMPUTE_MINUTES").reduce((sum, a) => sum + a.quantity, 0);
    parts.push(
      h("h3", {}, `GitLab.com group ${ns.path}`),
      facts([
        ["Compute minutes used", number(ns.computeMinutesUsed)],
        ["Extra compute minutes bought", minutes ? number(minutes) : null],
        ["Storage used", bytes(ns.storageUsedBytes)],
        ["Reported", dateTime(ns.usageReportedAt)],
      ]),
    );
  }
  if (s.deployment !== "GITLAB_COM") {
    const reports = await usageHistory(s);
    if (reports.length > 1) parts.push(usageChart(reports, s.seats, `Seats used over time, ${s.name}`));
    else parts.push(h("p", {}, "The chart appears after two usage reports."));
  }
  return h("section", { "aria-labelledby": "usage" }, parts);
}

function selfManaged(s) {
  const parts = [h("h2", { id: "self-managed" }, "Self-managed")];
  if (allowed(s, "ROTATE_ACTIVATION_CODE") && s.licensingMode !== "LEGACY") {
    parts.push(
      h("h3", {}, "Activation code"),
      h("p", {}, "Activation codes are stored hashed: a new one is shown here once, right after it is made. The old one stops working."),
      actionButton("Rotate the activation code", async () => {
        const data = await gql("RotateActivationCode", { subscriptionId: s.id });
        const refused = refusal(data.rotateActivationCode);
        if (refused) return errorMessage(refused);
        return h(
          "div",
          { class: "secret", role: "status" },
          h("p", {}, "Your new activation code (copy it now, it is not shown again):"),
          h("output", { id: "activation-code" }, data.rotateActivationCode.activationCode),
        );
      }, { id: "rotate-code" }),
    );
  }
  const instances = s.instances.edges.map(({ node }) => [
    node.hostname || "—",
    h("code", {}, node.instanceIdentifier),
    node.gitlabVersion || "—",
    dateTime(node.activatedAt),
    dateTime(node.lastSyncedAt),
  ]);
  parts.push(
    h("h3", {}, "Instances"),
    instances.length
      ? table("Activated instances", ["Hostname", "Instance", "Version", "Activated", "Last sync"], instances)
      : h("p", {}, "No instance has activated yet."),
  );
  return h("section", { "aria-labelledby": "self-managed" }, parts);
}

function licenses(s) {
  const rows = s.licenses.edges.map(({ node }) => [
    dateTime(node.createdAt),
    words(node.mode),
    words(node.plan),
    number(node.seats),
    date(node.startsAt),
    date(node.expiresAt),
    node.trial ? "Yes" : "No",
    node.cancelled ? "Yes" : "No",
    actionButton("Download", async () => {
      const data = await gql("LicenseKey", { id: node.id });
      await download(data.license.subscription.name, data.license.licenseKey);
      return notice("Downloaded.");
    }, { class: "secondary", "aria-label": `Download the license of ${dateTime(node.createdAt)}` }),
  ]);
  const fileModes = ["OFFLINE_CLOUD", "LEGACY"];
  const offline = (fileModes.includes(s.licensingMode) || s.deployment === "DEDICATED")
    && can("licenses:write");
  return h(
    "section",
    { "aria-labelledby": "licenses" },
    h("h2", { id: "licenses" }, "Licenses"),
    rows.length
      ? table("Licenses issued, oldest first", ["Issued", "Mode", "Plan", "Seats", "Starts", "Expires", "Trial", "Cancelled", ""], rows)
      : h("p", {}, "No license has been issued yet."),
    offline
      ? actionButton("Get the current license file", async () => {
          const data = await gql("IssueOfflineLicense", { subscriptionId: s.id });
          const refused = refusal(data.issueOfflineLicense);
          if (refused) return errorMessage(refused);
          await download(s.name, data.issueOfflineLicense.licenseKey);
          return notice("Downloaded.");
        }, { id: "license-file" })
      : null,
  );
}

async function gitlabCom(s) {
  const ns = s.namespace;
  const parts = [h("h2", { id: "gitlab-com" }, "GitLab.com group")];
  if (ns) {
    parts.push(
      facts([
        ["Group", ns.path],
        ["Plan on GitLab.com", words(ns.plan)],
        ["Billable members", number(ns.billableMembers)],
      ]),
      provisioningSteps(ns),
    );
    if (state.viewer.kind === "STAFF") {
      parts.push(
        actionButton("Unlink the group", async () => {
          const data = await gql("UnlinkNamespace", { subscriptionId: s.id });
          const refused = refusal(data.unlinkNamespace);
          if (refused) return errorMessage(refused);
          await rerender();
          return null;
        }),
      );
    }
  } else {
    parts.push(h("p", {}, "No group is linked yet."));
  }
  if (allowed(s, "LINK_NAMESPACE") && s.status === "ACTIVE") {
    const data = await gql("Namespaces");
    const groups = data.namespaces.edges
      .map((edge) => edge.node)
      .filter((n) => n.topLevel && (!ns || n.id !== ns.id));
    if (groups.length) {
      const id = newId("group");
      const select = h("select", { id, name: "namespace", required: true },
        groups.map((g) => h("option", { value: g.id }, `${g.path} (${words(g.plan)})`)));
      const outcome = h("div", { class: "outcome", "aria-live": "polite" });
      parts.push(
        h(
          "form",
          {
            class: "inline-form",
            "aria-label": ns ? "Move to another group" : "Link a group",
            onsubmit: async (event) => {
              event.preventDefault();
              outcome.replaceChildren();
              try {
                const result = await gql("LinkNamespace", { subscriptionId: s.id, namespaceId: select.value });
                const refused = refusal(result.linkNamespace);
                if (refused) outcome.replaceChildren(errorMessage(refused));
                else await rerender();
              } catch (error) {
                if (!(error instanceof ApiError)) throw error;
                outcome.replaceChildren(errorMessage(error.message));
              }
            },
          },
          h("div", { class: "field" }, h("label", { for: id }, ns ? "Move the plan to" : "Group to link"), select),
          h("button", { type: "submit", id: "link-group" }, ns ? "Move" : "Link group"),
          outcome,
        ),
      );
    }
  }
  return h("section", { "aria-labelledby": "gitlab-com" }, parts);
}

export async function subscriptionPage(id) {
  const data = await gql("Subscription", { id: decodeURIComponent(id) });
  const s = data.subscription;
  if (!s) return [h("h1", {}, "Subscription not found"), errorMessage("There is no such subscription, or it is not yours.")];
  return [
    h("h1", {}, `Subscription ${s.name}`),
    overview(s),
    actions(s),
    terms(s),
    await usage(s),
    s.deployment === "SELF_MANAGED" ? selfManaged(s) : null,
    s.deployment !== "GITLAB_COM" ? licenses(s) : null,
    s.deployment === "GITLAB_COM" ? await gitlabCom(s) : null,
  ].filter(Boolean);
}
