// The deterministic js-real host (issue 16): one Node.js process per simulation running the
// published, unmodified PowerSync JS SDK for every js-real client of that run, in lockstep
// with the simulation.  C++ delivers one event (engine/js/bridge.mjs lists them); the host
// runs until no JavaScript work is left and answers `idle` with the next fake-timer deadline.
// Nothing here reads real time or real randomness: setTimeout/setInterval/Date/performance
// follow the sim clock (@sinonjs/fake-timers, pinned beside the SDK), Math.random and
// crypto.randomUUID come from a PRNG seeded by the run.
//
// Usage: node host.mjs <installed SDK project dir>   (cmake/JsRealSdk.cmake installs it)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readMessage, send, kProtocolVersion } from './bridge.mjs';
import { loadSdk, SdkClient } from './sdk_client.mjs';

const realSetImmediate = setImmediate;
const sdkDir = process.argv[2];
if (!sdkDir) {
  process.stderr.write('usage: node host.mjs <installed SDK project dir>\n');
  process.exit(2);
}
const nodeModules = path.join(sdkDir, 'node_modules');
const require = createRequire(path.join(nodeModules, 'syncsim-host.cjs'));
const FakeTimers = require('@sinonjs/fake-timers');
// Everything the SDK could load lazily is imported before the first event: a dynamic
// import() is real file I/O the drain cannot see.
const sdk = await loadSdk(
  (p) => import(pathToFileURL(path.join(nodeModules, p)).href),
  (name) => JSON.parse(fs.readFileSync(path.join(nodeModules, name, 'package.json'), 'utf8')).version);

// Counts everything a client did (bridge calls); the drain stops once a hop changes nothing.
export const activity = { count: 0 };

// sfc32, seeded from the run: the SDK's retry jitter and any uuid it makes.
function seededRandom(seedText) {
  let h = 1779033703 ^ seedText.length;
  for (let i = 0; i < seedText.length; i++) {
    h = Math.imul(h ^ seedText.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  const next = () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
  let a = next(), b = next(), c = next(), d = next();
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function installDeterminism(seed) {
  const random = seededRandom(String(seed));
  Math.random = random;
  const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  globalThis.crypto.randomUUID = () =>
    `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`;
  globalThis.crypto.getRandomValues = (array) => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    return array;
  };
}

// The JS clock runs in whole milliseconds (Date.now() is an integer, as in a browser);
// sim time is in µs.
const msOf = (micros) => Math.floor(micros / 1000);
let clock = null;

function earliestTimer() {
  let best = null;
  for (const t of (clock.timers?.values() ?? [])) {
    if (best === null || t.callAt < best.callAt || (t.callAt === best.callAt && t.id < best.id)) best = t;
  }
  return best;
}

// Runs the host until no JavaScript work is left: real setImmediate hops (every microtask
// runs before the next hop) and fake timers already due, until a hop changes nothing.
async function drain() {
  for (let quiet = 0; quiet < 2; ) {
    const before = activity.count;
    const due = earliestTimer();
    if (due && due.callAt <= clock.now) {
      clock.next();
      activity.count++;
    }
    await new Promise((resolve) => realSetImmediate(resolve));
    quiet = activity.count === before ? quiet + 1 : 0;
  }
}

// Moves the clock to `micros`, firing every timer due by then in order, draining after each.
async function advanceTo(micros) {
  const target = msOf(micros);
  for (;;) {
    const t = earliestTimer();
    if (!t || t.callAt > target) break;
    clock.next();
    activity.count++;
    await drain();
  }
  if (target > clock.now) clock.tick(target - clock.now);
}

function idleMessage() {
  let next = null;
  for (const t of (clock.timers?.values() ?? [])) {
    const at = Math.ceil(t.callAt) * 1000;
    if (next === null || at < next) next = at;
  }
  return { op: 'idle', next_timer: next, in_flight: [...clients.values()].map((c) => c.inFlight()).flat() };
}

const clients = new Map();

function clientOf(message) {
  const c = clients.get(message.client);
  if (!c) throw new Error(`host: unknown client ${message.client} in ${message.op}`);
  return c;
}

async function handle(message) {
  switch (message.op) {
    case 'open': {
      const old = clients.get(message.client);
      if (old) old.kill();
      clients.set(message.client, new SdkClient(sdk, message, activity));
      return;
    }
    case 'connect': return clientOf(message).connect();
    case 'disconnect': return clientOf(message).disconnect();
    case 'close': {
      const c = clientOf(message);
      c.kill();
      clients.delete(message.client);
      return;
    }
    case 'tables_changed': return clientOf(message).tablesChanged(message.tables);
    case 'response': case 'chunk': case 'end': case 'reset':
      return clientOf(message).onNetwork(message);
    case 'timer': return;  // the clock already moved
    default: throw new Error(`host: unknown op ${message.op}`);
  }
}

// Node's own warnings (e.g. MaxListenersExceededWarning from the SDK's abort listeners) are
// part of what the SDK did: into the trace, not onto stderr.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  activity.count++;
  send({ op: 'log', client: '', level: 40, message: `node ${w.name}: ${w.message}` });
});
process.on('unhandledRejection', (e) => {
  send({ op: 'log', client: '', level: 50, message: `unhandled rejection: ${e?.message ?? e}` });
});

// A run begins (init) or the next run reuses this process (next_run): every SDK instance of the
// previous run is dropped with its fake timers, the PRNG is reseeded and the clock restarts.
function beginRun(message) {
  for (const c of clients.values()) c.kill();
  clients.clear();
  if (clock) clock.uninstall();
  installDeterminism(message.seed);
  clock = FakeTimers.withGlobal(globalThis).install({
    now: msOf(message.now),
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
  });
  send({ op: 'ready', v: kProtocolVersion, sdk: sdk.version });
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
    beginRun(message);
    continue;
  }
  await advanceTo(message.now);
  await handle(message);
  await drain();
  send(idleMessage());
}
clock.uninstall();
