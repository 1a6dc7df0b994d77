// One client's realm in the js-real host (engine/js/host.mjs): a `vm` context holding that
// SDK instance's own module instances (vm.SourceTextModule, linked by us), its own fake
// timers, its own seeded Math.random and crypto.  Dropping the realm drops all of its pending
// JavaScript work; nothing an earlier client or run did can reach it through module state.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { builtinModules, createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { queueLine, readLine, sendLine } from './bridge.mjs';

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
// realm (with V8's code cache), resolved the way Node resolves them.  `loadCache`: what
// engine/js/load_cache.mjs built for this project at build time (null: start empty).
export class ModuleSources {
  constructor(nodeModules, hostDir, loadCache = null) {
    this.nodeModules = nodeModules;
    this.hostDir = hostDir;
    this.cache = new Map();
    // Resolutions and module kinds, memoised: every realm of every run links the same files,
    // and resolving them anew cost each run ~0.1 s of stat/readFileSync (docs/performance-js-real.md).
    this.resolved = new Map(loadCache?.resolved ?? []);
    this.esm = new Map(loadCache?.esm ?? []);
    // file -> {text, data}: a build-time code cache, used only for the text it was made from
    // (compared whole: node:crypto alone would cost a host ~12 ms of start-up).
    this.codeCache = new Map((loadCache?.code ?? [])
                               .map(([file, text, data]) => [file, { text, data }]));
  }

  // What load_cache.mjs stores: resolutions, module kinds, every code cache made so far.
  exportCache() {
    const code = [];
    for (const [file, s] of this.cache) if (s.cachedData) code.push([file, s.text, s.cachedData]);
    return { resolved: [...this.resolved], esm: [...this.esm], code };
  }

  hostFile(name) { return path.join(this.hostDir, name); }

  source(file) {
    let s = this.cache.get(file);
    if (!s) {
      s = { text: fs.readFileSync(file, 'utf8'), cachedData: undefined };
      const built = this.codeCache.get(file);
      if (built && built.text === s.text) s.cachedData = built.data;
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

  static isBuiltin(specifier) {
    return specifier.startsWith('node:') || builtinModules.includes(specifier);
  }

  // A relative CommonJS path without its extension: file, file.js, file.json, file/index.js.
  static probe(file) {
    for (const candidate of [file, `${file}.js`, `${file}.json`, path.join(file, 'index.js')]) {
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
    }
    return file;
  }

  // `require`: resolve as CommonJS require() does (the "require" export condition).
  resolve(specifier, parentFile, require = false) {
    const key = `${require ? 'r' : 'i'}\0${specifier}\0${parentFile}`;
    let file = this.resolved.get(key);
    if (file === undefined) {
      file = this.resolveUncached(specifier, parentFile, require);
      this.resolved.set(key, file);
    }
    return file;
  }

  resolveUncached(specifier, parentFile, require) {
    if (specifier.startsWith('./') || specifier.startsWith('../')) {
      const file = path.resolve(path.dirname(parentFile), specifier);
      return require ? ModuleSources.probe(file) : file;
    }
    const parts = specifier.split('/');
    const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    const sub = '.' + specifier.slice(name.length);
    const dir = this.packageDir(name, parentFile);
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const order = require ? ['node', 'require', 'default'] : ['node', 'import', 'default'];
    const pick = (e) => {
      if (typeof e === 'string' || !e || typeof e !== 'object') return typeof e === 'string' ? e : null;
      for (const key of order) if (key in e) return pick(e[key]);
      return null;
    };
    let target = null;
    if (pj.exports) {
      const exports = typeof pj.exports === 'string' || !Object.keys(pj.exports)[0]?.startsWith('.')
                        ? { '.': pj.exports } : pj.exports;
      target = pick(exports[sub]);
    } else {
      target = sub === '.' ? ((require ? pj.main : pj.module ?? pj.main) ?? 'index.js') : sub;
      return ModuleSources.probe(path.join(dir, target));
    }
    if (!target) throw new Error(`host: cannot resolve ${specifier} (from ${parentFile})`);
    return path.join(dir, target);
  }

  // ES module or CommonJS, as Node decides: the extension, else the package's "type".
  isEsm(file) {
    let esm = this.esm.get(file);
    if (esm === undefined) {
      esm = this.isEsmUncached(file);
      this.esm.set(file, esm);
    }
    return esm;
  }

  isEsmUncached(file) {
    if (file.endsWith('.mjs')) return true;
    if (file.endsWith('.cjs') || file.endsWith('.json')) return false;
    for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const pj = path.join(dir, 'package.json');
      if (fs.existsSync(pj)) return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
    }
    return false;
  }
}

const hostRequire = createRequire(import.meta.url);

// The SDK entry modules of the installed project and its version line for the trace: 2.x is
// @powersync/common + @powersync/shared-internals; 1.x is @powersync/common alone, with the
// async-mutex its platform packages lock with (@powersync/node's NodeStreamingSyncImplementation).
export function sdkEntriesOf(sources) {
  const installed = (name) => fs.existsSync(path.join(sources.packageDir(name, null), 'package.json'));
  const versionOf = (name) =>
    JSON.parse(fs.readFileSync(path.join(sources.packageDir(name, null), 'package.json'), 'utf8')).version;
  if (!installed('@powersync/shared-internals')) {
    const entries = { common: sources.resolve('@powersync/common', null) };
    if (installed('async-mutex')) entries.mutex = sources.resolve('async-mutex', null);
    return { entries, version: `@powersync/common ${versionOf('@powersync/common')}` };
  }
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
  // `name`: the client whose sim PRNG serves Math.random (none: the realm's seeded one, e.g.
  // a realm loaded without the C++ side).
  constructor({ FakeTimers, sources, sdk, activity, nowMs, order, seed, name }) {
    this.order = order;
    this.sources = sources;
    this.sdk = sdk;
    this.activity = activity;
    this.client = null;
    this.modules = new Map();   // file -> vm module
    this.cjs = new Map();       // file -> CommonJS module record
    this.files = new WeakMap(); // SourceTextModule -> file
    this.tags = new Map();      // timer id -> the SDK function that armed it
    // A fresh fake-timers instance per realm: its timer ids start over too.
    const clock = (this.clock = FakeTimers.withGlobal(globalThis).createClock(nowMs));
    // The stack is captured now and formatted only if the timer is still armed when a drain
    // ends (armedTimers): most timers are cleared or fire within the drain that armed them.
    const tag = (handle) => {
      this.tags.set(Number(handle), new Error());
      this.timerChanges++;
      return handle;
    };
    // Counts arming, clearing and firing: the host re-sends a realm's armed timers only
    // when this moved (host.mjs idleMessage).
    this.timerChanges = 0;
    const untag = (handle) => {
      this.timerChanges++;
      return handle;
    };
    const random = seededRandom(seed);
    const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
    this.context = vm.createContext({
      setTimeout: (fn, ms, ...args) => tag(clock.setTimeout(fn, ms, ...args)),
      clearTimeout: (handle) => untag(clock.clearTimeout(handle)),
      setInterval: (fn, ms, ...args) => tag(clock.setInterval(fn, ms, ...args)),
      clearInterval: (handle) => untag(clock.clearInterval(handle)),
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
        queueLine,
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
    // Math.random is the SDK's retry jitter (delayRetry): drawn from the client's sim PRNG,
    // as the C++ port draws it, so both engines wait the same; uuids stay on the seeded one.
    // A dropped realm's leftover microtasks (the SDK's catch paths after the abort) draw from
    // the seeded one: C++ no longer knows that app, and nothing it does reaches the trace.
    const simRandom = () => {
      if (this.dropped) return random();
      sendLine(JSON.stringify({ op: 'draw', client: name, what: 'random' }));
      const reply = JSON.parse(readLine());
      if (reply?.op !== 'drawn') throw new Error(`bridge: expected drawn, got ${reply?.op}`);
      return reply.value;
    };
    vm.runInContext('Math', this.context).random = name ? simRandom : random;
  }

  // A synthetic module over CommonJS exports (a builtin's or a package's evaluated here).
  syntheticModule(key, exports) {
    const names = [...new Set(['default', ...Object.keys(exports)])];
    const m = new vm.SyntheticModule(names, function init() {
      for (const n of names) this.setExport(n, n === 'default' ? exports : exports[n]);
    }, { identifier: key, context: this.context });
    this.modules.set(key, m);
    return m;
  }

  // CommonJS evaluated inside this realm (1.x SDK dependencies such as event-iterator);
  // builtins are the host's.
  require(specifier, parentFile) {
    if (ModuleSources.isBuiltin(specifier)) return hostRequire(specifier);
    const file = path.isAbsolute(specifier) ? specifier
                                            : this.sources.resolve(specifier, parentFile, true);
    const cached = this.cjs.get(file);
    if (cached) return cached.exports;
    const text = this.sources.source(file).text;
    if (file.endsWith('.json')) {
      const module = { exports: vm.runInContext(`(${text})`, this.context) };
      this.cjs.set(file, module);
      return module.exports;
    }
    const wrapper = vm.compileFunction(text, ['exports', 'require', 'module', '__filename', '__dirname'],
                                       { parsingContext: this.context, filename: file });
    const module = { exports: {} };
    this.cjs.set(file, module);
    wrapper.call(module.exports, module.exports, (spec) => this.require(spec, file), module, file,
                 path.dirname(file));
    return module.exports;
  }

  moduleFor(file) {
    let m = this.modules.get(file);
    if (m) return m;
    if (ModuleSources.isBuiltin(file)) return this.syntheticModule(file, hostRequire(file));
    if (!this.sources.isEsm(file)) return this.syntheticModule(file, this.require(file, file));
    const s = this.sources.source(file);
    const options = { identifier: pathToFileURL(file).href, context: this.context };
    try {
      m = new vm.SourceTextModule(s.text, { ...options, cachedData: s.cachedData });
    } catch (e) {
      // V8 refused a build-time code cache (another V8 or flags): compile, as without one.
      if (e?.code !== 'ERR_VM_MODULE_CACHED_DATA_REJECTED') throw e;
      s.cachedData = undefined;
      m = new vm.SourceTextModule(s.text, options);
    }
    if (!s.cachedData) s.cachedData = m.createCachedData();
    this.modules.set(file, m);
    this.files.set(m, file);
    return m;
  }

  async import(file) {
    const m = this.moduleFor(file);
    if (m.status === 'unlinked') {
      await m.link((specifier, referencing) =>
        this.moduleFor(ModuleSources.isBuiltin(specifier)
                         ? specifier : this.sources.resolve(specifier, this.files.get(referencing))));
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
    this.dropped = true;
    this.client?.kill();
    this.client = null;
  }

  moveClockTo(ms) {
    if (this.clock.now < ms) this.clock.now = ms;
  }

  firstTimer() { return this.clock.timerHeap?.peek() ?? null; }

  fireNext() {
    this.timerChanges++;
    this.clock.next();
  }

  inFlight() { return this.client ? this.client.inFlight() : []; }

  // Every armed timer with the SDK function that armed it (liveness explanations).
  armedTimers() {
    const out = [];
    const live = this.clock.timers ?? new Map();
    for (const id of [...this.tags.keys()]) if (!live.has(id)) this.tags.delete(id);
    for (const t of live.values()) {
      let by = this.tags.get(t.id);
      if (by instanceof Error) this.tags.set(t.id, (by = armedBy(by.stack)));
      out.push({ client: this.client?.name ?? '', at: Math.ceil(t.callAt) * 1000, id: t.id,
                 by: by ?? 'unknown' });
    }
    return out.sort((x, y) => x.at - y.at || x.id - y.id).map(({ id, ...rest }) => rest);
  }
}
