// The graphql-js side of tests/lib/graphql/test_gql_exec.c (graphql@16.15.0 from package-lock.json,
// installed by the test into build/oracle-exec with `npm ci`; NODE_PATH points there).
//   node exec_oracle.js exec <schema.graphql> <data.json> <cases.json>  -> JSON array of results
//   node exec_oracle.js introspection-query                             -> the query text
//   node exec_oracle.js roundtrip <schema.graphql> <result.json>        -> "OK" or both printouts
//   node exec_oracle.js introspection-raw <schema.graphql>              -> the raw result of the
//     introspection query on buildSchema(sdl) (generates fixtures/exec_introspection.json:
//     node exec_oracle.js introspection-raw tests/lib/graphql/fixtures/exec_schema.graphql
//       > tests/lib/graphql/fixtures/exec_introspection.json)
// The resolvers here and in test_gql_exec.c are written to do the same thing.
'use strict';
const fs = require('fs');
const graphql = require('graphql');

if (graphql.version !== '16.15.0') throw new Error('expected graphql 16.15.0, got ' + graphql.version);

function fixtureRoot(data) {
  let counter = 0;
  const root = JSON.parse(JSON.stringify(data));
  const arg = (name) => (args) => args[name];
  Object.assign(root, {
    hello: ({ name }) => (name === null ? 'Hello null' : 'Hello ' + name),
    echo: arg('v'), int: arg('v'), float: arg('v'), str: arg('v'), bool: arg('v'), id: arg('v'),
    color: arg('v'), colors: arg('v'), filter: arg('f'), pick: arg('p'), list: arg('v'), req: arg('v'),
    node: ({ id }) => data.nodes.find((n) => n.id === id) || null,
    failing: () => { throw new Error('boom'); },
    failingNonNull: () => { throw new Error('boom!'); },
    incr: ({ by }) => (counter += by),
    set: ({ v }) => v,
    fail: () => { throw new Error('mutation failed'); },
  });
  return root;
}

function buildFixtureSchema(sdl) {
  const schema = graphql.buildSchema(sdl);
  const deep = schema.getType('Deep').getFields();
  deep.fail.resolve = (p) => { throw new Error('fail ' + p.a); };
  deep.failNN.resolve = (p) => { throw new Error('failNN ' + p.a); };
  // Node has a resolveType hook in C too; both read __typename
  schema.getType('Node').resolveType = (v) => v.__typename;
  return schema;
}

function plain(result) {
  const out = {};
  if (result.errors) {
    out.errors = result.errors.map((e) => {
      const o = { message: e.message };
      if (e.locations) o.locations = e.locations;
      if (e.path) o.path = e.path;
      return o;
    });
  }
  if ('data' in result) out.data = result.data;
  return out;
}

function introspectionQuery() {
  return graphql.getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
    schemaDescription: true, inputValueDeprecation: true, oneOf: true,
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'exec') {
  const sdl = fs.readFileSync(args[0], 'utf8');
  const data = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const cases = JSON.parse(fs.readFileSync(args[2], 'utf8'));
  const schema = buildFixtureSchema(sdl);
  const out = cases.map((c) => {
    const document = graphql.parse(c.query);
    const errors = graphql.validate(schema, document);
    if (errors.length) return { invalid: errors.map((e) => e.message) };
    return plain(graphql.executeSync({
      schema, document, rootValue: fixtureRoot(data),
      variableValues: c.variables, operationName: c.operationName,
    }));
  });
  process.stdout.write(JSON.stringify(out));
} else if (mode === 'introspection-query') {
  process.stdout.write(introspectionQuery());
} else if (mode === 'introspection-raw') {
  const schema = graphql.buildSchema(fs.readFileSync(args[0], 'utf8'));
  const result = graphql.executeSync({ schema, document: graphql.parse(introspectionQuery()) });
  process.stdout.write(JSON.stringify(plain(result), null, 1) + '\n');
} else if (mode === 'roundtrip') {
  const sdl = fs.readFileSync(args[0], 'utf8');
  const result = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const print = (s) => graphql.printSchema(graphql.lexicographicSortSchema(s));
  const expected = print(graphql.buildSchema(sdl));
  let got;
  try {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    got = print(graphql.buildClientSchema(result.data));
  } catch (e) {
    got = 'buildClientSchema failed: ' + e.message;
  }
  process.stdout.write(got === expected ? 'OK' : '--- expected\n' + expected + '\n--- got\n' + got + '\n');
} else {
  process.stderr.write('usage: exec_oracle.js exec|introspection-query|introspection-raw|roundtrip ...\n');
  process.exit(2);
}
