// The js-real host's load cache (issue 20 (e), js18; docs/performance-js-real.md "Fixed cost
// per host"): what a host process spends before its first realm runs the SDK -- resolving
// every import through package.json files, telling ES modules from CommonJS, compiling the
// SDK's modules -- done once at build time into the build dir, one file per installed SDK
// project.  A Node startup snapshot cannot hold it: Node 20 refuses vm contexts and has no
// vm.SourceTextModule in a snapshot (docs/performance-js-real.md).
//
// Only cost moves: a code cache is V8's compiled form of the same text (checked against the
// text it was made from (realm.mjs), and by V8 against its version and flags), resolutions are what
// realm.mjs resolveUncached would answer for the same installed tree (its directory is
// keyed by its lockfile's hash, cmake/JsRealSdk.cmake).  A missing, stale or rejected entry
// means compiling and resolving as without the cache.
//
// Build: node --experimental-vm-modules --expose-gc --no-opt --hash-seed=1 load_cache.mjs <out>
// <project dir> (the host's flags, engine/js/js_host.cpp: V8 rejects a code cache made under
// other flags; the fixed hash seed makes the file byte-reproducible).
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ModuleSources, ClientRealm, sdkEntriesOf } from './realm.mjs';

// A cache made by another node is ignored; V8 itself refuses a code cache made under other
// V8 flags (realm.mjs then compiles).
export const loadCacheKey = () => `${process.version} load-cache v1`;

// The cache file of an installed project directory inside `cacheDir`.
export const loadCacheFile = (cacheDir, projectDir) =>
  path.join(cacheDir, `${path.basename(path.resolve(projectDir))}.bin`);

// The cache's contents, or null when there is none or it was made by another node/flags.
export function readLoadCache(file) {
  let data;
  try {
    data = v8.deserialize(fs.readFileSync(file));
  } catch {
    return null;
  }
  return data?.key === loadCacheKey() ? data : null;
}

// The project's sources after one realm loaded what `open` loads (realm.mjs ClientRealm.open).
async function build(out, projectDir) {
  const nodeModules = path.join(projectDir, 'node_modules');
  const hostDir = path.dirname(fileURLToPath(import.meta.url));
  const require = createRequire(path.join(nodeModules, 'syncsim-host.cjs'));
  const FakeTimers = require('@sinonjs/fake-timers');
  const sources = new ModuleSources(nodeModules, hostDir);
  const sdk = sdkEntriesOf(sources);
  const realm = new ClientRealm({ FakeTimers, sources, sdk, activity: { count: 0 }, nowMs: 0,
                                  order: 0, seed: 'load-cache' });
  for (const file of Object.values(sdk.entries)) await realm.import(file);
  await realm.import(sources.hostFile('sdk_client.mjs'));
  const bytes = v8.serialize({ key: loadCacheKey(), ...sources.exportCache() });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, out);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.length !== 4) {
    process.stderr.write('usage: node <the host flags> load_cache.mjs <out> <project dir>\n');
    process.exit(2);
  }
  await build(process.argv[2], process.argv[3]);
}
