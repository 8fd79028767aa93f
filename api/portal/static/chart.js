// Seats over time as an inline SVG line chart (no library): billable users and the highest
// count per report, against the licensed seats.

import { h } from "./dom.js";

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 52, right: 16, top: 16, bottom: 40 };

function scale(domainMin, domainMax, rangeMin, rangeMax) {
  const span = domainMax - domainMin || 1;
  return (value) => rangeMin + ((value - domainMin) / span) * (rangeMax - rangeMin);
}

function line(points, x, y, field) {
  return points.map((p) => `${x(p.time).toFixed(1)},${y(p[field]).toFixed(1)}`).join(" ");
}

export function usageChart(reports, seats, titleText) {
  const points = reports
    .map((r) => ({
      time: new Date(r.reportedAt).getTime(),
      day: r.reportedAt.slice(0, 10),
      billable: r.billableUsers,
      max: r.maxHistoricalUsers,
    }))
    .sort((a, b) => a.time - b.time);
  const top = Math.max(seats, ...points.map((p) => Math.max(p.billable, p.max))) * 1.1;
  const x = scale(points[0].time, points[points.length - 1].time, PAD.left, WIDTH - PAD.right);
  const y = scale(0, top, HEIGHT - PAD.bottom, PAD.top);
  const first = points[0];
  const last = points[points.length - 1];
  const titleId = `chart-title-${first.time}`;
  const descId = `chart-desc-${first.time}`;
  const ticks = [0, Math.round(top / 2), Math.round(top)];
  // One label per month, at its first report, where it does not crowd the one before.
  const months = [];
  const seen = new Set();
  let lastX = -Infinity;
  for (const p of points) {
    const month = p.day.slice(0, 7);
    if (seen.has(month)) continue;
    seen.add(month);
    const at = x(p.time);
    if (at - lastX >= 64 && at <= WIDTH - PAD.right - 24) {
      months.push(p);
      lastX = at;
    }
  }
  return h(
    "figure",
    { class: "chart" },
    h(
      "svg:svg",
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        "aria-labelledby": `${titleId} ${descId}`,
        class: "chart-svg",
      },
      h("svg:title", { id: titleId }, titleText),
      h(
        "svg:desc",
        { id: descId },
        `${points.length} reports from ${first.day} to ${last.day}: ` +
          `${last.billable} billable users at the last, highest ${last.max}, ${seats} seats.`,
      ),
      ticks.map((tick) => [
        h("svg:line", {
          x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid",
        }),
        h("svg:text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "axis" }, tick),
      ]),
      months.map((p) =>
        h(
          "svg:text",
          { x: x(p.time), y: HEIGHT - PAD.bottom + 18, "text-anchor": "middle", class: "axis" },
          p.day.slice(0, 7),
        ),
      ),
      h("svg:line", {
        x1: PAD.left, x2: WIDTH - PAD.right, y1: y(seats), y2: y(seats), class: "seats-line",
      }),
      h("svg:polyline", { points: line(points, x, y, "max"), class: "max-line" }),
      h("svg:polyline", { points: line(points, x, y, "billable"), class: "billable-line" }),
    ),
    h(
      "figcaption",
      {},
      h("span", { class: "key billable" }, "Billable users"),
      h("span", { class: "key max" }, "Highest count"),
      h("span", { class: "key seats" }, `Seats (${seats})`),
    ),
  );
}
