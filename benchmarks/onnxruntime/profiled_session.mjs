// What run_session.mjs and layer_times.mjs share: an ONNX Runtime session set
// up as the peer of riformer (sequential, all graph optimizations, the given
// intra-op thread count) with its profiler on, a fixed synthetic input, and
// the profiler's events once the runs are done.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';

// Opens `model` for `threads` threads; returns the session, feeds for a
// [1, 3, size, size] input, and profileEvents(), which ends profiling and
// returns (and deletes) the profile's events.
export async function openProfiledSession(model, size, threads) {
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
  const profileEvents = () => {
    session.endProfiling();
    const dir = path.dirname(prefix);
    const file = fs.readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.json'));
    const events = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.rmSync(dir, {recursive: true, force: true});
    return events;
  };
  return {session, feeds, profileEvents};
}
