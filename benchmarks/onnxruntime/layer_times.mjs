// ONNX Runtime's own time per layer of one model: the peer of `riformer bench
// --layers` in benchmarks/compare_layers.py. Runs the model RUNS times after
// a warm-up with ORT's profiler on, takes each node's median kernel time, and
// sums the nodes by the PyTorch module they were exported from. Prints one
// JSON line: {"threads": T, "layers": [[name, ms], ...]} in execution order.
// Names follow the state_dict: "/model.0/network.4/..." -> "network.4",
// "/model.13/..." -> "model.13". Nodes ORT adds itself (layout reorders,
// fused activations named "*_token_*") count to the layer before them.
//
//   node layer_times.mjs MODEL.onnx SIZE THREADS RUNS
import {openProfiledSession} from './profiled_session.mjs';

const [model, sizeArg, threadsArg, runsArg] = process.argv.slice(2);
const size = Number(sizeArg), threads = Number(threadsArg), runs = Number(runsArg);
const {session, feeds, profileEvents} = await openProfiledSession(model, size, threads);
for (let i = 0; i <= runs; ++i) await session.run(feeds);
const events = profileEvents();

// Each node's kernel times, in the order the nodes first ran; the first run is the warm-up.
const nodes = new Map();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const name = e.name.slice(0, -'_kernel_time'.length);
  if (!nodes.has(name)) nodes.set(name, []);
  nodes.get(name).push(e.dur / 1000);
}
const median = (v) => {
  const s = v.slice(1).sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return s.length % 2 ? s[s.length >> 1] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
};
const layerOf = (node) => {
  const backbone = node.match(/^\/model\.0\/(patch_embed|network\.\d+|norm\d+)\//);
  if (backbone) return backbone[1];
  const head = node.match(/^\/(model\.\d+)\//);
  return head ? head[1] : null;
};
const layers = new Map();  // in the order of each layer's first node
let current = '(input)';
for (const [node, times] of nodes) {
  current = layerOf(node) ?? current;
  layers.set(current, (layers.get(current) ?? 0) + median(times));
}
console.log(JSON.stringify({threads, layers: [...layers]}));
