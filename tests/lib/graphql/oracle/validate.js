// validate.js: graphql-js 16.15.0 validate() as the oracle for tests/lib/graphql/test_gql_validate.c.
// Usage: node validate.js CORPUS.json SCHEMA.graphql > results.json
// CORPUS.json is a JSON array of documents (strings, or {"name", "doc"} objects). Prints a JSON
// array with, per document in order: {"syntax": message} when it does not parse, {"throw":
// message} when validate() throws, else {"errors": [{"message", "locations": [{line, column}]}]}.
'use strict';
const fs = require('fs');
const graphql = require('graphql');

if (graphql.version !== '16.15.0') throw new Error('expected graphql 16.15.0, got ' + graphql.version);
const [corpusPath, schemaPath] = process.argv.slice(2);
const schema = graphql.buildSchema(fs.readFileSync(schemaPath, 'utf8'));
const schemaErrors = graphql.validateSchema(schema);
if (schemaErrors.length) throw new Error('invalid schema: ' + schemaErrors[0].message);
const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const out = corpus.map((entry) => {
  const text = typeof entry === 'string' ? entry : entry.doc;
  let doc;
  try {
    doc = graphql.parse(text);
  } catch (e) {
    return { syntax: e.message };
  }
  try {
    const errors = graphql.validate(schema, doc);
    return {
      errors: errors.map((e) => ({
        message: e.message,
        locations: (e.locations || []).map((l) => ({ line: l.line, column: l.column })),
      })),
    };
  } catch (e) {
    return { throw: String(e && e.message) };
  }
});
process.stdout.write(JSON.stringify(out));
