// Times ONNX Runtime's session.run on one model: the peer of riformer's
// `bench` in benchmarks/compare.py. Prints one JSON line:
//   {"threads": T, "wall_ms": [...], "profiled_ms": [...]}
// wall_ms: JavaScript wall time of each session.run; profiled_ms: ORT's own
// "model_run" durations from its profiler (the work without the JS binding).
//
//   node run_session.mjs MODEL.onnx SIZE THREADS RUNS
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';

const [model, sizeArg, threadsArg, runsArg] = process.argv.slice(2);
const size = Number(sizeArg), threads = Number(threadsArg), runs = Number(runsArg);
const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'riformer-ort-')), 'profile');

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  enableProfiling: true,
  profileFilePrefix: prefix,
});
const data = new Float32Array(3 * size * size);
for (let i = 0; i < data.length; ++i) data[i] = (i * 7919 % 1000) / 1000;  // any image: speed does not depend on it
const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, size, size])};

await session.run(feeds);  // warm-up
const wall = [];
for (let i = 0; i < runs; ++i) {
  const t = process.hrtime.bigint();
  await session.run(feeds);
  wall.push(Number(process.hrtime.bigint() - t) / 1e6);
}
session.endProfiling();
const dir = path.dirname(prefix);
const file = fs.readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.json'));
const events = JSON.parse(fs.readFileSync(file, 'utf8'));
const profiled = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1000).slice(1);  // drop the warm-up
fs.rmSync(dir, {recursive: true, force: true});
console.log(JSON.stringify({threads, wall_ms: wall, profiled_ms: profiled}));
