// Building the page: elements and text nodes only (never HTML strings), so nothing the API
// returns can become markup or script.

const SVG = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const element = svg
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let uniqueId = 0;
export function newId(prefix) {
  uniqueId += 1;
  return `${prefix}-${uniqueId}`;
}

// A message next to what caused it; role=alert makes screen readers announce it.
export function errorMessage(text) {
  return h("p", { class: "error", role: "alert" }, text);
}

export function notice(text) {
  return h("p", { class: "notice", role: "status" }, text);
}

export function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
    ),
  );
}

export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}

export function date(value) {
  return value ? String(value) : "—";
}

export function dateTime(value) {
  if (!value) return "never";
  const moment = new Date(value);
  return `${moment.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function words(value) {
  // ACTIVE → Active, GITLAB_COM → GitLab.com, SELF_MANAGED → Self-managed
  const special = { GITLAB_COM: "GitLab.com", SELF_MANAGED: "Self-managed", WEB_DIRECT: "Web direct" };
  if (value === null || value === undefined) return "—";
  if (special[value]) return special[value];
  const text = String(value).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function bytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let amount = Number(value);
  let unit = 0;
  while (amount >= 1000 && unit < units.length - 1) {
    amount /= 1000;
    unit += 1;
  }
  return `${amount.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function number(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}
