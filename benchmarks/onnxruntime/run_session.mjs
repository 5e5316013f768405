// Times ONNX Runtime's session.run on one model: the peer of riformer's
// `bench` in benchmarks/compare.py. Prints one JSON line:
//   {"threads": T, "wall_ms": [...], "profiled_ms": [...]}
// wall_ms: JavaScript wall time of each session.run; profiled_ms: ORT's own
// "model_run" durations from its profiler (the work without the JS binding).
//
//   node run_session.mjs MODEL.onnx SIZE THREADS RUNS
import {openProfiledSession} from './profiled_session.mjs';

const [model, sizeArg, threadsArg, runsArg] = process.argv.slice(2);
const size = Number(sizeArg), threads = Number(threadsArg), runs = Number(runsArg);
const {session, feeds, profileEvents} = await openProfiledSession(model, size, threads);

await session.run(feeds);  // warm-up
const wall = [];
for (let i = 0; i < runs; ++i) {
  const t = process.hrtime.bigint();
  await session.run(feeds);
  wall.push(Number(process.hrtime.bigint() - t) / 1e6);
}
const profiled = profileEvents().filter((e) => e.name === 'model_run').map((e) => e.dur / 1000).slice(1);  // drop the warm-up
console.log(JSON.stringify({threads, wall_ms: wall, profiled_ms: profiled}));
