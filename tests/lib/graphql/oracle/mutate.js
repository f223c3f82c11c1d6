// mutate.js: deterministic mutations of the hand-written validation corpus, for the
// differential test (tests/lib/graphql/test_gql_validate.c).
// Usage: node mutate.js CORPUS.json COUNT SEED > mutated.json
// Parses each seed document with graphql-js, applies 1-3 random AST edits (rename or drop
// fields, arguments, directives, fragments, variables; swap literal values, types and type
// conditions; duplicate selections with aliases; ...) with a seeded PRNG (mulberry32), prints
// the result with print(). Output: a JSON array of {"name", "doc"}; same input, same output.
'use strict';
const fs = require('fs');
const { parse, print, visit, Kind } = require('graphql');

const [corpusPath, countArg, seedArg] = process.argv.slice(2);
const count = Number(countArg || 400);
let seed = Number(seedArg || 20240601) >>> 0;
function rnd() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

const FIELDS = ['name', 'nickname', 'barks', 'barkVolume', 'meows', 'mother', 'father', 'pets',
  'relatives', 'dog', 'cat', 'pet', 'catOrDog', 'human', 'furColor', 'doesKnowCommand',
  'isHouseTrained', 'complicatedArgs', 'intArgField', 'nonNullIntArgField', 'stringListArgField',
  'complexArgField', 'oneOfArgField', 'multipleReqs', '__typename', 'friends', 'edges', 'node',
  'unknownField', 'born'];
const ARGS = ['intArg', 'stringArg', 'dogCommand', 'atOtherHomes', 'surname', 'req1', 'req2',
  'complexArg', 'first', 'id', 'x', 'bogus'];
const TYPES = ['Dog', 'Cat', 'Pet', 'CatOrDog', 'Human', 'Canine', 'Mammal', 'String',
  'ComplexInput', 'FurColor', 'QueryRoot', 'Nope'];
const VAR_TYPES = ['Int', 'Int!', 'String', '[String]', '[String!]!', 'Boolean!', 'ComplexInput',
  'FurColor', 'Dog', 'ID', 'DogCommand', 'Unknown'];
const DIRECTIVES = ['@include(if: true)', '@skip(if: $v)', '@onField', '@onQuery', '@unknown',
  '@include', '@onInlineFragment', '@repeatable', '@deprecated'];
const VALUES = ['1', '-5', '1.5', '"str"', 'true', 'null', 'SIT', 'BROWN', '[1, 2]', '["a", null]',
  '{ requiredField: true }', '{ intField: "x" }', '$v', '$intArg', '2147483648', '{}'];

function valueNode(src) {
  return parse(`{ f(a: ${src}) }`).definitions[0].selectionSet.selections[0].arguments[0].value;
}
function typeNode(src) {
  return parse(`query ($x: ${src}) { a }`).definitions[0].variableDefinitions[0].type;
}
function directiveNode(src) {
  return parse(`{ f ${src} }`).definitions[0].selectionSet.selections[0].directives[0];
}
const nameNode = (value) => ({ kind: Kind.NAME, value });

// Counts the nodes of each kind, then edits the k-th node of a random kind.
function mutateOnce(doc) {
  const kinds = {};
  visit(doc, { enter(node) { kinds[node.kind] = (kinds[node.kind] || 0) + 1; } });
  const ops = [];
  if (kinds.Field) ops.push('renameField', 'dropSelectionSet', 'addSelectionSet', 'aliasDup',
    'addArgument', 'dropField', 'addDirective', 'aliasSwap');
  if (kinds.Argument) ops.push('changeValue', 'renameArgument', 'dropArgument');
  if (kinds.FragmentSpread) ops.push('renameSpread');
  if (kinds.FragmentDefinition || kinds.InlineFragment) ops.push('changeCondition');
  if (kinds.VariableDefinition) ops.push('changeVarType', 'dropVarDef', 'renameVar');
  if (kinds.OperationDefinition) ops.push('addVarDef', 'renameOp');
  if (kinds.Directive) ops.push('dropDirective');
  if (kinds.ObjectField) ops.push('renameObjectField');
  if (!ops.length) return doc;
  const op = pick(ops);
  const targetKind = {
    renameField: 'Field', dropSelectionSet: 'Field', addSelectionSet: 'Field', aliasDup: 'Field',
    addArgument: 'Field', dropField: 'Field', addDirective: 'Field', aliasSwap: 'Field',
    changeValue: 'Argument', renameArgument: 'Argument', dropArgument: 'Argument',
    renameSpread: 'FragmentSpread', changeVarType: 'VariableDefinition',
    dropVarDef: 'VariableDefinition', renameVar: 'VariableDefinition',
    addVarDef: 'OperationDefinition', renameOp: 'OperationDefinition',
    dropDirective: 'Directive', renameObjectField: 'ObjectField',
  }[op];
  if (op === 'changeCondition') {
    const k = kinds.FragmentDefinition ? 'FragmentDefinition' : 'InlineFragment';
    let i = 0;
    const n = Math.floor(rnd() * kinds[k]);
    const t = pick(TYPES);
    return visit(doc, { [k](node) {
      if (i++ !== n) return undefined;
      return { ...node, typeCondition: { kind: Kind.NAMED_TYPE, name: nameNode(t) } };
    } });
  }
  let i = 0;
  const n = Math.floor(rnd() * kinds[targetKind]);
  const choice = rnd();
  return visit(doc, { [targetKind](node) {
    if (i++ !== n) return undefined;
    switch (op) {
      case 'renameField': return { ...node, name: nameNode(pick(FIELDS)) };
      case 'dropSelectionSet': return { ...node, selectionSet: undefined };
      case 'addSelectionSet':
        return node.selectionSet ? { ...node, selectionSet: { ...node.selectionSet,
          selections: [...node.selectionSet.selections, { kind: Kind.FIELD, name: nameNode(pick(FIELDS)),
            arguments: [], directives: [] }] } }
          : { ...node, selectionSet: { kind: Kind.SELECTION_SET,
            selections: [{ kind: Kind.FIELD, name: nameNode(pick(FIELDS)), arguments: [], directives: [] }] } };
      case 'aliasDup': return [node, { ...node, alias: nameNode(node.alias ? node.alias.value : node.name.value),
        name: choice < 0.5 ? node.name : nameNode(pick(FIELDS)) }];
      case 'aliasSwap': return { ...node, alias: nameNode(pick(FIELDS)) };
      case 'addArgument': return { ...node, arguments: [...(node.arguments || []),
        { kind: Kind.ARGUMENT, name: nameNode(pick(ARGS)), value: valueNode(pick(VALUES)) }] };
      case 'dropField': return null;
      case 'addDirective': return { ...node, directives: [...(node.directives || []), directiveNode(pick(DIRECTIVES))] };
      case 'changeValue': return { ...node, value: valueNode(pick(VALUES)) };
      case 'renameArgument': return { ...node, name: nameNode(pick(ARGS)) };
      case 'dropArgument': return null;
      case 'renameSpread': return { ...node, name: nameNode(pick(['F', 'fragA', 'fragB', 'Frag', 'HumanFields1', 'X'])) };
      case 'changeVarType': return { ...node, type: typeNode(pick(VAR_TYPES)) };
      case 'dropVarDef': return null;
      case 'renameVar': return { ...node, variable: { ...node.variable, name: nameNode(pick(['a', 'b', 'v', 'intArg', 'x'])) } };
      case 'addVarDef': return { ...node, variableDefinitions: [...(node.variableDefinitions || []),
        { kind: Kind.VARIABLE_DEFINITION, variable: { kind: Kind.VARIABLE, name: nameNode(pick(['v', 'intArg', 'a'])) },
          type: typeNode(pick(VAR_TYPES)), directives: [],
          defaultValue: choice < 0.3 ? valueNode(pick(VALUES.filter((x) => !x.startsWith('$')))) : undefined }] };
      case 'renameOp': return { ...node, name: choice < 0.3 ? undefined : nameNode(pick(['Foo', 'Bar', 'Q'])) };
      case 'dropDirective': return null;
      case 'renameObjectField': return { ...node, name: nameNode(pick(['requiredField', 'intField', 'stringField', 'nope', 'f1'])) };
      default: return undefined;
    }
  } });
}

const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const seeds = [];
for (const entry of corpus) {
  try {
    seeds.push({ name: entry.name, ast: parse(entry.doc) });
  } catch (e) { /* syntax errors are not mutated */ }
}
const out = [];
const seen = new Set();
let attempts = 0;
while (out.length < count && attempts < count * 20) {
  attempts++;
  const s = pick(seeds);
  let ast = s.ast;
  const edits = 1 + Math.floor(rnd() * 3);
  try {
    for (let k = 0; k < edits; k++) ast = mutateOnce(ast);
    const text = print(ast);
    parse(text);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({ name: `mutated/${out.length}/${s.name}`, doc: text });
  } catch (e) { /* an edit produced an unprintable tree: skip */ }
}
process.stdout.write(JSON.stringify(out));
