// Signing in with the authorization-code flow and PKCE (RFC 7636, S256) against Provision's
// own endpoints, as any separately hosted front end would. The tokens live in this tab's
// sessionStorage, never in a cookie: closing the tab forgets them.

const SESSION = "provision.portal.session";
const PENDING = "provision.portal.pending";

export class SignInError extends Error {}

export function session() {
  const raw = sessionStorage.getItem(SESSION);
  return raw ? JSON.parse(raw) : null;
}

function save(tokens) {
  sessionStorage.setItem(SESSION, JSON.stringify(tokens));
}

export function forget() {
  sessionStorage.removeItem(SESSION);
}

function base64url(buffer) {
  const text = String.fromCharCode(...new Uint8Array(buffer));
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomString(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

// The page receives the code itself: /portal/ is the registered redirect URI.
function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

export async function signIn(config) {
  const verifier = randomString(32);
  const state = randomString(16);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(config.authorize, location.origin);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    state,
    code_challenge: base64url(digest),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

// After the sign-in page sent the browser back: trade the code for tokens. False when this
// load is not such a return.
export async function completeSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", `${location.pathname}${pending?.hash || ""}`);
  if (params.has("error")) {
    const why = params.get("error_description") || params.get("error");
    throw new SignInError(`Signing in did not work: ${why}.`);
  }
  if (!pending || params.get("state") !== pending.state) {
    throw new SignInError("Signing in did not work: that answer belongs to another sign-in.");
  }
  save(
    await tokenRequest(config, {
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  );
  return true;
}

async function tokenRequest(config, form) {
  const response = await fetch(config.token, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new SignInError(
      `Signing in did not work: ${body.error_description || body.error || response.status}.`,
    );
  }
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresAt: Date.now() + body.expires_in * 1000,
  };
}

// One refresh at a time: a refresh token works once, and using one twice ends the sign-in.
let refreshing = null;
export function refresh(config) {
  if (!refreshing) {
    refreshing = (async () => {
      const current = session();
      if (!current?.refreshToken) throw new SignInError("Your sign-in has ended.");
      const tokens = await tokenRequest(config, {
        grant_type: "refresh_token",
        refresh_token: current.refreshToken,
        client_id: config.clientId,
      });
      save(tokens);
      return tokens;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// Revoking the refresh token ends the whole sign-in (its access tokens too).
export async function signOut(config) {
  const current = session();
  forget();
  if (!current?.refreshToken) return;
  await fetch(config.revoke, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      token: current.refreshToken,
      token_type_hint: "refresh_token",
      client_id: config.clientId,
    }),
  }).catch(() => undefined);
}
