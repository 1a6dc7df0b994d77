// One client's realm in the js-real host (engine/js/host.mjs): a `vm` context holding that
// SDK instance's own module instances (vm.SourceTextModule, linked by us), its own fake
// timers, its own seeded Math.random and crypto.  Dropping the realm drops all of its pending
// JavaScript work; nothing an earlier client or run did can reach it through module state.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { pathToFileURL } from 'node:url';
import { readLine, sendLine } from './bridge.mjs';

// sfc32 seeded from text: the SDK's retry jitter and any uuid it makes.
export function seededRandom(seedText) {
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

// Module sources of one installed SDK project, read once per process and shared by every
// realm (with V8's code cache), resolved the way Node resolves them.
export class ModuleSources {
  constructor(nodeModules, hostDir) {
    this.nodeModules = nodeModules;
    this.hostDir = hostDir;
    this.cache = new Map();
  }

  hostFile(name) { return path.join(this.hostDir, name); }

  source(file) {
    let s = this.cache.get(file);
    if (!s) {
      s = { text: fs.readFileSync(file, 'utf8'), cachedData: undefined };
      this.cache.set(file, s);
    }
    return s;
  }

  packageDir(name, parentFile) {
    for (let dir = parentFile ? path.dirname(parentFile) : this.nodeModules;
         dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (dir === path.dirname(this.nodeModules)) break;
    }
    return path.join(this.nodeModules, name);
  }

  resolve(specifier, parentFile) {
    if (specifier.startsWith('./') || specifier.startsWith('../')) {
      return path.resolve(path.dirname(parentFile), specifier);
    }
    const parts = specifier.split('/');
    const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    const sub = '.' + specifier.slice(name.length);
    const dir = this.packageDir(name, parentFile);
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const pick = (e) => (typeof e === 'string' ? e
                         : e && typeof e === 'object' ? pick(e.node ?? e.import ?? e.default) : null);
    let target = null;
    if (pj.exports) {
      const exports = typeof pj.exports === 'string' || !Object.keys(pj.exports)[0]?.startsWith('.')
                        ? { '.': pj.exports } : pj.exports;
      target = pick(exports[sub]);
    } else {
      target = sub === '.' ? (pj.module ?? pj.main ?? 'index.js') : sub;
    }
    if (!target) throw new Error(`host: cannot resolve ${specifier} (from ${parentFile})`);
    return path.join(dir, target);
  }
}

// The SDK entry modules of the installed project and its version line for the trace.
export function sdkEntriesOf(sources) {
  const versionOf = (name) =>
    JSON.parse(fs.readFileSync(path.join(sources.packageDir(name, null), 'package.json'), 'utf8')).version;
  return {
    entries: {
      common: sources.resolve('@powersync/common', null),
      internals: sources.resolve('@powersync/shared-internals', null),
    },
    version: `@powersync/common ${versionOf('@powersync/common')}, ` +
             `@powersync/shared-internals ${versionOf('@powersync/shared-internals')}`,
  };
}

// "fn (<sdk>/@powersync/common/lib/x.js:12)": the first frame of `stack` outside the host.
function armedBy(stack) {
  for (const line of String(stack).split('\n').slice(1)) {
    const m = /^\s*at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/.exec(line);
    if (!m || m[2].endsWith('/realm.mjs')) continue;
    const file = m[2].replace(/^.*node_modules\//, '<sdk>/').replace(/^.*engine\/js\//, '<host>/');
    return `${m[1] ?? '<anonymous>'} (${file}:${m[3]})`;
  }
  return 'unknown';
}

const quietConsole = Object.freeze({
  log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {},
});

export class ClientRealm {
  constructor({ FakeTimers, sources, sdk, activity, nowMs, order, seed }) {
    this.order = order;
    this.sources = sources;
    this.sdk = sdk;
    this.activity = activity;
    this.client = null;
    this.modules = new Map();   // file -> SourceTextModule
    this.files = new WeakMap(); // SourceTextModule -> file
    this.tags = new Map();      // timer id -> the SDK function that armed it
    // A fresh fake-timers instance per realm: its timer ids start over too.
    const clock = (this.clock = FakeTimers.withGlobal(globalThis).createClock(nowMs));
    const tag = (handle) => {
      this.tags.set(Number(handle), armedBy(new Error().stack));
      return handle;
    };
    const random = seededRandom(seed);
    const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
    this.context = vm.createContext({
      setTimeout: (fn, ms, ...args) => tag(clock.setTimeout(fn, ms, ...args)),
      clearTimeout: (handle) => clock.clearTimeout(handle),
      setInterval: (fn, ms, ...args) => tag(clock.setInterval(fn, ms, ...args)),
      clearInterval: (handle) => clock.clearInterval(handle),
      Date: clock.Date,
      performance: clock.performance,
      queueMicrotask,
      AbortController, AbortSignal, TextEncoder, TextDecoder, URL, URLSearchParams,
      console: quietConsole,
      crypto: {
        randomUUID: () =>
          `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`,
        getRandomValues: (array) => {
          const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
          for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
          return array;
        },
      },
      __syncsimHost: {
        sendLine,
        callLine: (line) => {
          sendLine(line);
          const reply = readLine();
          if (reply === null) throw new Error('bridge: C++ side closed during a call');
          return reply;
        },
        toBase64: (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64'),
        fromBase64: (text) => Buffer.from(text, 'base64'),
      },
    }, { name: `syncsim client realm ${order}` });
    vm.runInContext('Math', this.context).random = random;
  }

  moduleFor(file) {
    let m = this.modules.get(file);
    if (m) return m;
    const s = this.sources.source(file);
    m = new vm.SourceTextModule(s.text, {
      identifier: pathToFileURL(file).href, context: this.context, cachedData: s.cachedData,
    });
    if (!s.cachedData) s.cachedData = m.createCachedData();
    this.modules.set(file, m);
    this.files.set(m, file);
    return m;
  }

  async import(file) {
    const m = this.moduleFor(file);
    if (m.status === 'unlinked') {
      await m.link((specifier, referencing) =>
        this.moduleFor(this.sources.resolve(specifier, this.files.get(referencing))));
    }
    if (m.status === 'linked') await m.evaluate();
    return m.namespace;
  }

  async open(message) {
    const sdk = { version: this.sdk.version };
    for (const [key, file] of Object.entries(this.sdk.entries)) sdk[key] = await this.import(file);
    const { SdkClient } = await this.import(this.sources.hostFile('sdk_client.mjs'));
    this.client = new SdkClient(sdk, message, this.activity);
  }

  kill() {
    this.client?.kill();
    this.client = null;
  }

  moveClockTo(ms) {
    if (this.clock.now < ms) this.clock.now = ms;
  }

  firstTimer() { return this.clock.timerHeap?.peek() ?? null; }

  fireNext() { this.clock.next(); }

  inFlight() { return this.client ? this.client.inFlight() : []; }

  // Every armed timer with the SDK function that armed it (liveness explanations).
  armedTimers() {
    const out = [];
    const live = this.clock.timers ?? new Map();
    for (const id of [...this.tags.keys()]) if (!live.has(id)) this.tags.delete(id);
    for (const t of live.values()) {
      out.push({ client: this.client?.name ?? '', at: Math.ceil(t.callAt) * 1000, id: t.id,
                 by: this.tags.get(t.id) ?? 'unknown' });
    }
    return out.sort((x, y) => x.at - y.at || x.id - y.id).map(({ id, ...rest }) => rest);
  }
}
