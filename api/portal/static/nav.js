// What the pages share: who is signed in, the customer chosen, and links between pages.

import { h } from "./dom.js";

export const state = { viewer: null, customerId: null, rerender: null };

export function hrefOf(path, params) {
  const query = params && [...params].length ? `?${params}` : "";
  return `#${path}${query}`;
}

export function link(path, params, ...children) {
  return h("a", { href: hrefOf(path, params) }, ...children);
}

export function go(path, params) {
  location.hash = hrefOf(path, params);
}

// Draw the current page again (after a change), keeping the URL.
export function rerender() {
  return state.rerender();
}

export function allowed(subscription, action) {
  return subscription.viewerPermissions.some((p) => p.action === action && p.allowed);
}

export function can(scope) {
  return Boolean(state.viewer?.scopes.includes(scope));
}
