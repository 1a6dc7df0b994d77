// The deterministic js-real host (issue 16): one Node.js process per simulation running the
// published, unmodified PowerSync JS SDK for every js-real client of that run, in lockstep
// with the simulation.  C++ delivers one event (engine/js/bridge.mjs lists them); the host
// runs until no JavaScript work is left and answers `idle` with the next fake-timer deadline.
//
// Every SDK instance (one app life) lives in its own `vm` context (engine/js/realm.mjs): its
// own module instances of the SDK, its own fake timers (@sinonjs/fake-timers, pinned beside
// the SDK) for setTimeout/setInterval/Date/performance, its own seeded Math.random and
// crypto.  A kill or power loss drops exactly that client's realm with its pending work, and
// a process kept across seeds (`next_run`) starts every run from fresh module state.
// Nothing here reads real time or real randomness.
//
// Usage: node --experimental-vm-modules host.mjs <installed SDK project dir> [<name>=<dir> ...]
//        [--load-cache=<dir>]
// The first directory is the run's SDK (its version goes into `ready`); every `name=dir` is a
// pinned project a client may run instead (`open` names it: an app update from core 0.5.3 to
// 0.4.6 switches SDK package and core together).  Projects load lazily, once per process.
import path from 'node:path';
import { createRequire } from 'node:module';
import { readMessage, send, kProtocolVersion } from './bridge.mjs';
import { ModuleSources, ClientRealm, sdkEntriesOf } from './realm.mjs';
import { loadCacheFile, readLoadCache } from './load_cache.mjs';

const realSetImmediate = setImmediate;
const sdkDir = process.argv[2];
if (!sdkDir) {
  process.stderr.write('usage: node host.mjs <installed SDK project dir> [<name>=<dir> ...]\n');
  process.exit(2);
}
const hostDir = new URL('.', import.meta.url).pathname;
const nodeModules = path.join(sdkDir, 'node_modules');
const require = createRequire(path.join(nodeModules, 'syncsim-host.cjs'));
const FakeTimers = require('@sinonjs/fake-timers');
// --load-cache=<dir>: the build's load caches (engine/js/load_cache.mjs), one per project.
const loadCacheArg = process.argv.slice(3).find((a) => a.startsWith('--load-cache='));
const loadCacheDir = loadCacheArg?.slice('--load-cache='.length);
const projectDirs = new Map(process.argv.slice(3).filter((a) => a !== loadCacheArg)
                              .map((a) => [a.slice(0, a.indexOf('=')),
                                           a.slice(a.indexOf('=') + 1)]));
const sourcesOf = (dir) => new ModuleSources(
  path.join(dir, 'node_modules'), hostDir,
  loadCacheDir && process.env.SYNCSIM_JS_NO_LOAD_CACHE !== '1'
    ? readLoadCache(loadCacheFile(loadCacheDir, dir)) : null);
const primary = { sources: sourcesOf(sdkDir) };
primary.sdk = sdkEntriesOf(primary.sources);
const projects = new Map();  // name -> {sources, sdk}, loaded on first use

function projectNamed(name) {
  if (!name) return primary;
  let p = projects.get(name);
  if (!p) {
    const dir = projectDirs.get(name);
    if (!dir) throw new Error(`host: SDK project ${name} was not given to this host`);
    p = dir === sdkDir ? primary : { sources: sourcesOf(dir) };
    p.sdk ??= sdkEntriesOf(p.sources);
    projects.set(name, p);
  }
  return p;
}

// Counts everything a client did (bridge calls, timers fired); the drain stops once a hop
// changes nothing.
// `epoch` counts the events C++ delivered: what a client learnt about its connection from a
// bridge reply holds only within the event it learnt it in (sdk_client.mjs sql()).
const activity = { count: 0, epoch: 0 };

// The JS clock runs in whole milliseconds (Date.now() is an integer, as in a browser);
// sim time is in µs.  Every realm's clock is kept at `nowMs` except while one of its timers
// fires (then at that timer's time, which is `nowMs` too: timers fire in global order).
const msOf = (micros) => Math.floor(micros / 1000);
let nowMs = 0;
let runSeed = '';
let opened = 0;  // realms opened this run: their order breaks ties between equal deadlines
const clients = new Map();

function setNow(ms) {
  if (ms > nowMs) nowMs = ms;
  for (const c of clients.values()) c.moveClockTo(nowMs);
}

// The earliest armed timer over every live realm: (deadline, realm order), then the realm's
// own order (fake-timers: deadline, then creation).
function earliest() {
  let best = null;
  for (const c of clients.values()) {
    const t = c.firstTimer();
    if (t && (best === null || t.callAt < best.timer.callAt ||
              (t.callAt === best.timer.callAt && c.order < best.client.order))) {
      best = { client: c, timer: t };
    }
  }
  return best;
}

function fire(e) {
  setNow(e.timer.callAt);
  e.client.fireNext();
  activity.count++;
}

// Runs the host until no JavaScript work is left: real setImmediate hops (every microtask
// runs before the next hop) and fake timers already due, until a hop changes nothing.  The
// hop comes before a due timer fires: a timer callback is a macrotask and never runs while
// microtasks are pending (`syncsim diff` basic-legacy seed 5: a timer fired amid the stream
// error's microtasks made the upload loop draw its jitter before the retry delay did).
async function drain() {
  for (let quiet = 0; quiet < 2;) {
    const before = activity.count;
    await new Promise((resolve) => realSetImmediate(resolve));
    const due = earliest();
    if (due && due.timer.callAt <= nowMs) fire(due);
    quiet = activity.count === before ? quiet + 1 : 0;
  }
}

// Moves the clocks to `micros`, firing every timer due before then in order, draining after
// each.  A timer due exactly at `micros` fires first only for the `timer` event itself: any
// other event at that instant was scheduled in the sim before C++ armed the sim timer for
// that deadline (js_host.cpp arm() keeps an unchanged deadline's timer), so the sim runs it
// first, as the port's own timers at that instant would (`syncsim diff` basic-legacy seed 5:
// a stream cut at 15 s and an upload throttle ending at 15 s).  The drain after the event
// then fires the tied timers.
async function advanceTo(micros, inclusive) {
  const target = msOf(micros);
  const due = (t) => (inclusive ? Math.ceil(t.callAt) * 1000 <= micros
                                : Math.ceil(t.callAt) * 1000 < micros);
  for (;;) {
    const e = earliest();
    if (!e || !due(e.timer)) break;
    fire(e);
    await drain();
  }
  setNow(target);
}

// The armed timers go to C++ only when they may have changed: a realm came or went, armed,
// cleared or fired one (realm.mjs timerChanges), or its SDK instance appeared; C++ keeps the
// last list otherwise.  Listing them at every idle was a visible share of the host's CPU
// (docs/performance-js-real.md, "The real JS SDK").  Requests in flight C++ tracks itself.
let timersSent = null;

function idleMessage() {
  const next = earliest();
  const live = [...clients.values()];
  const message = { op: 'idle', next_timer: next ? Math.ceil(next.timer.callAt) * 1000 : null };
  const key = live.map((c) => `${c.order}:${c.timerChanges}:${c.client?.name ?? ''}`).join(',');
  if (key !== timersSent) {
    timersSent = key;
    message.timers = live.map((c) => c.armedTimers()).flat();
  }
  return message;
}

function clientOf(message) {
  const c = clients.get(message.client);
  if (!c) throw new Error(`host: unknown client ${message.client} in ${message.op}`);
  return c;
}

// Drops a client's realm with everything it had pending; `say` puts what was dropped into
// the trace (not at a run's start: C++ of the previous run is gone).
function dropClient(name, say = true) {
  const c = clients.get(name);
  if (!c) return;
  if (say) {
    send({ op: 'log', client: name, level: 30,
           message: `host: realm dropped with ${c.armedTimers().length} armed timers and ` +
                    `${c.inFlight().length} requests in flight` });
  }
  c.kill();
  clients.delete(name);
}

async function handle(message) {
  switch (message.op) {
    case 'open': {
      dropClient(message.client);
      const order = opened++;
      const project = projectNamed(message.sdk);
      const { sources, sdk } = project;
      if (project !== primary) {  // an app update switched this client's SDK package
        send({ op: 'log', client: message.client, level: 30,
               message: `host: this app now runs ${sdk.version} (${message.sdk})` });
      }
      const realm = new ClientRealm({
        FakeTimers, sources, sdk, activity, nowMs, order,
        seed: `${runSeed}/${message.client}/${order}`, name: message.client,
      });
      clients.set(message.client, realm);
      return realm.open(message);
    }
    case 'connect': return clientOf(message).client.connect();
    case 'disconnect': return clientOf(message).client.disconnect();
    case 'close': return dropClient(message.client);
    case 'tables_changed': return clientOf(message).client.tablesChanged(message.tables);
    case 'stream': return clientOf(message).client.stream(message);
    case 'request_checkpoint': return clientOf(message).client.requestCheckpoint(message.call);
    case 'wait_for_sync': return clientOf(message).client.waitForSync(message.call, message.id);
    case 'abort_wait': return clientOf(message).client.abortWait(message.call, message.reason);
    case 'response': case 'chunk': case 'end': case 'reset':
      return clientOf(message).client.onNetwork(message);
    case 'timer': return;  // the clocks already moved
    default: throw new Error(`host: unknown op ${message.op}`);
  }
}

// Node's own warnings (e.g. MaxListenersExceededWarning from the SDK's abort listeners) are
// part of what the SDK did: into the trace, not onto stderr.
// `settling`: the previous run's realms are being dropped (settleRun): what they still say
// belongs to no run.
let settling = false;
let settled = 0;  // what they said while settling
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning') return;  // vm modules: the host's, not the SDK's
  if (settling) {
    settled++;
    return;
  }
  activity.count++;
  send({ op: 'log', client: '', level: 40, message: `node ${w.name}: ${w.message}` });
});
process.on('unhandledRejection', (e) => {
  if (settling) {
    settled++;
    return;
  }
  try {
    send({ op: 'log', client: '', level: 50, message: `unhandled rejection: ${e?.message ?? e}` });
  } catch (err) {
    if (err?.code !== 'EPIPE') throw err;  // C++ is gone (the run ended): nobody to tell
  }
});

// A run begins (init) or the next run reuses this process (next_run): every realm of the
// previous run is dropped, the clock restarts at the run's start.
function beginRun(message) {
  for (const name of [...clients.keys()]) dropClient(name, false);
  runSeed = String(message.seed);
  opened = 0;
  timersSent = null;  // a new JsHost on the C++ side knows no timers yet
  nowMs = msOf(message.now);
  const ready = { op: 'ready', v: kProtocolVersion, sdk: primary.sdk.version };
  if (message.heap && globalThis.gc) {
    globalThis.gc();
    ready.heap_bytes = process.memoryUsage().heapUsed;
  }
  send(ready);
}

// Before the next run of a kept process: the previous run's realms are dropped and what that
// sets off (requests failing with "the app was closed", rejections nobody handles -- the 1.43.1
// JavaScript client's) runs to its end here, unreported.  Until this, it surfaced in the next
// run's first drain as "js unhandled rejection" lines: a seed run after others had another
// trace than alone (JsReal.A046RunUsesTheJavaScriptSyncClientAndNeverCallsPowersyncControl on
// a kept host; docs/performance-js-real.md, "The real JS SDK").
async function settleRun() {
  settling = true;
  for (const name of [...clients.keys()]) dropClient(name, false);
  for (let quiet = 0; quiet < 2;) {
    const before = settled;
    await new Promise((resolve) => realSetImmediate(resolve));
    quiet = settled === before ? quiet + 1 : 0;
  }
  settling = false;
}

const init = readMessage();
if (!init || init.op !== 'init' || init.v !== kProtocolVersion) {
  process.stderr.write(`host: expected init with v=${kProtocolVersion}, got ${JSON.stringify(init)}\n`);
  process.exit(2);
}
beginRun(init);

for (;;) {
  const message = readMessage();
  if (message === null || message.op === 'exit') break;
  if (message.op === 'next_run') {
    await settleRun();
    beginRun(message);
    continue;
  }
  activity.epoch++;
  // Each life's write connection as C++ delivered the event (js_host.cpp deliver): what a
  // reply would have said, so the event's first BEGIN needs no round trip (sdk_client.mjs).
  for (const [name, state] of Object.entries(message.connections ?? {})) {
    clients.get(name)?.client?.learn(state);
  }
  await advanceTo(message.now, message.op === 'timer');
  await handle(message);
  await drain();
  send(idleMessage());
}
