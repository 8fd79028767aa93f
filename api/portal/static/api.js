// The GraphQL client: every request names a registered document by id (operations/*.graphql,
// trusted documents) and carries the access token in the Authorization header.

import { forget, refresh, session } from "./auth.js";

let config = null;

export function configure(value) {
  config = value;
}

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export class SignedOut extends Error {}

async function post(token, documentId, variables) {
  return fetch(config.graphql, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json;q=0.9",
    },
    body: JSON.stringify({ documentId, variables }),
  });
}

export async function gql(name, variables = {}) {
  const documentId = config.documents[name];
  if (!documentId) throw new ApiError(`The portal has no document ${name}.`);
  let current = session();
  if (!current) throw new SignedOut();
  if (current.expiresAt - Date.now() < 30_000 && current.refreshToken) {
    current = await refresh(config).catch(() => current);
  }
  let response = await post(current.accessToken, documentId, variables);
  if (response.status === 401 && current.refreshToken) {
    current = await refresh(config).catch(() => null);
    if (current) response = await post(current.accessToken, documentId, variables);
  }
  if (response.status === 401) {
    forget();
    throw new SignedOut();
  }
  const body = await response.json().catch(() => null);
  if (!body) throw new ApiError(`The server answered ${response.status}; try again.`);
  if (body.errors?.length) {
    const messages = body.errors.map((error) => error.message).join(" ");
    throw new ApiError(messages, body.errors[0].extensions?.code);
  }
  return body.data;
}

// A mutation's expected refusals ({code, message, path}), as one readable sentence or null.
export function refusal(payload) {
  const errors = payload?.errors || [];
  return errors.length ? errors.map((error) => error.message).join(" ") : null;
}
