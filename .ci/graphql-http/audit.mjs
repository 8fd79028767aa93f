// The graphql-http audit (the GraphQL-over-HTTP spec's server checks) of a served /graphql.
// Usage: node audit.mjs URL [TOKEN]. With TOKEN, every request carries it as a bearer token:
// several audits introspect (`__type`), which Provision refuses to anonymous callers.
// Exits 1 unless every audit is ok, naming each warning and error.
import { auditServer } from "graphql-http";

const [url, token] = process.argv.slice(2);
if (!url) {
  console.error("usage: node audit.mjs URL [TOKEN]");
  process.exit(2);
}

function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn });
let failed = 0;
for (const result of results) {
  if (result.status !== "ok") {
    failed += 1;
    console.log(`${result.status}: ${result.id} ${result.name}: ${result.reason}`);
  }
}
const ok = results.length - failed;
console.log(`graphql-http audit: ${ok} ok of ${results.length}`);
process.exit(failed === 0 ? 0 : 1);
