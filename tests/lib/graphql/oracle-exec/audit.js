// graphql-http's server audits (GraphQL over HTTP) against a live /graphql endpoint.
//   NODE_PATH=build/oracle-exec/node_modules node audit.js http://127.0.0.1:PORT/graphql
// With RECIPROCAL_AUDIT_BEARER set, every request carries `Authorization: Bearer <it>` (some
// audits use __type, and introspection is for signed-in callers by default).
// Prints one line per audit (ok / warn / error) and exits 1 when a MUST audit fails.
'use strict';
const { serverAudits } = require('graphql-http');

(async () => {
  const url = process.argv[2];
  let mustFailed = 0;
  const bearer = process.env.RECIPROCAL_AUDIT_BEARER;
  const fetchFn = !bearer ? fetch : (input, init = {}) => {
    const headers = new Headers(init.headers || {});
    headers.set('authorization', 'Bearer ' + bearer);
    return fetch(input, { ...init, headers });
  };
  for (const audit of serverAudits({ url, fetchFn })) {
    const result = await audit.fn();
    const line = `${result.status} ${audit.id} ${audit.name}` +
      (result.status === 'ok' ? '' : ` :: ${result.reason}`);
    process.stdout.write(line + '\n');
    if (result.status !== 'ok' && audit.name.startsWith('MUST')) mustFailed++;
  }
  process.stdout.write(`MUST failures: ${mustFailed}\n`);
  process.exit(mustFailed ? 1 : 0);
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(2); });
