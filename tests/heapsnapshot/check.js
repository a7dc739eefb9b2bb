// tests/heapsnapshot/check.js
// Reads an amber .heapsnapshot export with an independent parser
// (@vscode/v8-heap-parser, the one VS Code uses) and checks it against
// amber's own analysis of the same snapshot: the V8 meta is complete, every
// node is there, and every node's retained size is the one amber computed.
//
// usage: node check.js FILE.heapsnapshot AMBER.jsonl
//   AMBER.jsonl: `amber summary S --json`, then `amber top S --json` pages
//   covering every node (one JSON object a line).
'use strict';
const fs = require('fs');
const { decode_bytes, WasmSortBy } = require('@vscode/v8-heap-parser');

function fail(msg) {
  console.error('heapsnapshot check: ' + msg);
  process.exit(1);
}

const [file, amberFile] = process.argv.slice(2);
if (!file || !amberFile) fail('usage: node check.js FILE.heapsnapshot AMBER.jsonl');
const bytes = fs.readFileSync(file);

// 1. The format: every part of V8's meta that DevTools reads.
const raw = JSON.parse(bytes.toString('utf8'));
const meta = raw.snapshot && raw.snapshot.meta;
if (!meta) fail('no snapshot.meta');
for (const k of ['node_fields', 'node_types', 'edge_fields', 'edge_types',
                 'trace_function_info_fields', 'trace_node_fields', 'sample_fields',
                 'location_fields'])
  if (!Array.isArray(meta[k])) fail('meta.' + k + ' is missing');
for (const k of ['nodes', 'edges', 'strings', 'locations', 'samples',
                 'trace_function_infos', 'trace_tree'])
  if (!Array.isArray(raw[k])) fail(k + ' is missing');
const nf = meta.node_fields.length, ef = meta.edge_fields.length;
if (raw.nodes.length !== raw.snapshot.node_count * nf)
  fail(`nodes has ${raw.nodes.length / nf} rows, node_count says ${raw.snapshot.node_count}`);
if (raw.edges.length !== raw.snapshot.edge_count * ef)
  fail(`edges has ${raw.edges.length / ef} rows, edge_count says ${raw.snapshot.edge_count}`);
let edgeSum = 0;
const ecIndex = meta.node_fields.indexOf('edge_count');
const nameIndex = meta.node_fields.indexOf('name');
for (let i = 0; i < raw.nodes.length; i += nf) {
  edgeSum += raw.nodes[i + ecIndex];
  if (raw.nodes[i + nameIndex] >= raw.strings.length) fail('a node name is out of the strings table');
}
if (edgeSum !== raw.snapshot.edge_count) fail('edge counts of the nodes do not add up');
const toIndex = meta.edge_fields.indexOf('to_node');
for (let i = 0; i < raw.edges.length; i += ef) {
  const to = raw.edges[i + toIndex];
  if (to % nf !== 0 || to >= raw.nodes.length) fail('an edge points between nodes');
}

// 2. amber's view of the same snapshot.
let summary = null;
const retained = new Map();
for (const line of fs.readFileSync(amberFile, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const o = JSON.parse(line);
  if (Array.isArray(o.types)) summary = o;
  else for (const n of o.nodes) retained.set(n.id, BigInt(n.retained));
}
if (!summary) fail('no summary line in ' + amberFile);
if (retained.size !== summary.nodes)
  fail(`the top pages cover ${retained.size} nodes of ${summary.nodes}`);

// 3. The parser's view: every node once, with amber's retained size.
const graph = decode_bytes(bytes);
const groups = graph.get_class_groups(0, 1 << 30, false);
let count = 0, self = 0n, checked = 0;
const seen = new Set();
groups.forEach((g, gi) => {
  count += g.children_len;
  self += BigInt(g.self_size);
  for (const n of graph.class_children(gi, 0, g.children_len, WasmSortBy.RetainedSize)) {
    const id = (n.id - 1) / 2;
    if (!Number.isInteger(id) || seen.has(id)) fail('node id ' + n.id + ' is not 2 x an amber id + 1, or twice');
    seen.add(id);
    if (id === 0) continue; // the root: DevTools also counts garbage under it
    const want = retained.get(id);
    if (want === undefined) fail(`node ${id} is not in amber's snapshot`);
    if (BigInt(n.retained_size) !== want)
      fail(`node ${id} (${n.name()}): the parser says it retains ${n.retained_size}, amber says ${want}`);
    checked++;
  }
});
if (count !== summary.nodes + 1) fail(`the parser sees ${count} nodes, amber ${summary.nodes} plus the root`);
if (self !== BigInt(summary.shallow)) fail(`shallow sizes add up to ${self}, amber says ${summary.shallow}`);
console.log(`heapsnapshot: ${count} nodes, ${raw.snapshot.edge_count} edges, ` +
            `${groups.length} classes; retained sizes of ${checked} nodes agree with amber`);
