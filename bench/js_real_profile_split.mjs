// Splits the js-real host's inspector CPU profile (bench/js_real_profile_preload.cjs) by
// where each sample's time went: the published SDK (@powersync/*), its npm dependencies, our
// host (engine/js/*.mjs), the fake-timers library, blocked in the bridge's pipe read/write,
// V8's GC and (program), the rest of Node.  Each sample is charged to the nearest frame on
// its stack that has a script URL outside node:* (natives such as JSON.parse count for their
// JS caller); a sample under bridge.mjs's readLine/sendLine in fs.readSync/writeSync is the
// bridge.  Prints JSON (milliseconds of profile time, i.e. wall time of Node's main thread).
// Usage: node js_real_profile_split.mjs <profile.cpuprofile> [runs]
import fs from 'node:fs';

const [file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 1);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);

function stackOf(id) {
  const frames = [];
  for (let at = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at).callFrame);
  return frames;  // leaf first
}

function scriptCategory(url) {
  if (url.includes('/node_modules/@sinonjs/')) return 'fake_timers';
  if (url.includes('/node_modules/@powersync/')) return 'sdk';
  if (url.includes('/node_modules/')) return 'sdk_deps';
  if (url.includes('/engine/js/')) return 'host';
  return 'other';
}

const special = new Map([['(garbage collector)', 'gc'], ['(program)', 'program'],
                         ['(idle)', 'idle'], ['(root)', 'node_other']]);
const hostFile = (url) => url.slice(url.lastIndexOf('/') + 1);

function categorise(id) {
  const frames = stackOf(id);
  const leaf = frames[0];
  // Only the profiler's own pseudo-frames, which have no script (a native `toString` does not).
  if (leaf.url === '' && special.has(leaf.functionName)) return { cat: special.get(leaf.functionName) };
  const has = (fn, urlEnd) => frames.some((f) => f.functionName === fn && f.url.endsWith(urlEnd));
  if (has('readSync', 'fs') && has('readLine', 'engine/js/bridge.mjs')) return { cat: 'bridge_read' };
  if (has('writeSync', 'fs') && has('sendLine', 'engine/js/bridge.mjs')) return { cat: 'bridge_write' };
  const owner = frames.find((f) => f.url !== '' && !f.url.startsWith('node:'));
  if (!owner) return { cat: 'node_other' };
  const cat = scriptCategory(owner.url);
  // A native leaf (JSON.parse, a Buffer op) is named beside the script frame it counts for.
  const native = leaf === owner ? '' : `${leaf.functionName || '(anonymous)'} in `;
  return { cat, file: cat === 'host' ? hostFile(owner.url) : undefined,
           fn: native + (owner.functionName || '(anonymous)') };
}

const memo = new Map();
const ms = {};
const count = {};  // samples: under load a sample after a preemption carries its wait in its
// time delta, while the count stays close to CPU time / sampling interval
const hostFiles = {};
const hostFns = {};
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; ++i) {
  const id = profile.samples[i];
  // timeDeltas[i] is the time since the previous sample: charge it to the sample that ends it
  // (the same convention as Chrome's DevTools and `--cpu-prof` readers).
  const dt = (deltas[i + 1] ?? 0) / 1000;
  let c = memo.get(id);
  if (!c) memo.set(id, (c = categorise(id)));
  ms[c.cat] = (ms[c.cat] || 0) + dt;
  count[c.cat] = (count[c.cat] || 0) + 1;
  if (c.file) {
    hostFiles[c.file] = (hostFiles[c.file] || 0) + dt;
    const key = `${c.fn} ${c.file}`;
    hostFns[key] = (hostFns[key] || 0) + dt;
  }
}
const total = Object.values(ms).reduce((a, b) => a + b, 0);
const sorted = [...deltas].sort((a, b) => a - b);
const intervalMs = sorted[Math.floor(sorted.length / 2)] / 1000;  // the median delta
const bySamples = Object.fromEntries(Object.entries(count).map(([k, n]) => [k, n * intervalMs]));
const round = (o) => Object.fromEntries(Object.entries(o).sort((a, b) => b[1] - a[1])
  .map(([k, v]) => [k, Math.round((v / runs) * 10) / 10]));
const busy = total - (ms.bridge_read || 0) - (ms.idle || 0);
console.log(JSON.stringify({
  profile: file,
  runs,
  ms_per_run: round(ms),
  total_ms_per_run: Math.round((total / runs) * 10) / 10,
  busy_ms_per_run: Math.round((busy / runs) * 10) / 10,
  sdk_js_ms_per_run: Math.round((((ms.sdk || 0) + (ms.sdk_deps || 0)) / runs) * 10) / 10,
  sampling_interval_ms: intervalMs,
  ms_per_run_by_samples: round(bySamples),
  sdk_js_ms_per_run_by_samples:
    Math.round((((bySamples.sdk || 0) + (bySamples.sdk_deps || 0)) / runs) * 10) / 10,
  host_files_ms_per_run: round(hostFiles),
  host_top_functions_ms_per_run: Object.fromEntries(Object.entries(round(hostFns)).slice(0, 20)),
}, null, 2));
