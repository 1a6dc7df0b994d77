// Every pinned SDK project (engine/js/packages/*) loads into a client realm of the js-real
// host (engine/js/realm.mjs: ES modules, CommonJS dependencies evaluated in the realm, Node
// builtins), and the realm is its own: its Math.random is seeded, not the host's.
// Usage: node --experimental-vm-modules tests/js_realm_load_test.mjs <installed project dir>
// Exit 0 on success, 1 with a message otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { ModuleSources, ClientRealm, sdkEntriesOf } from '../engine/js/realm.mjs';

const dir = process.argv[2];
const nodeModules = path.join(dir, 'node_modules');
const FakeTimers = createRequire(path.join(nodeModules, 'syncsim-test.cjs'))('@sinonjs/fake-timers');
const sources = new ModuleSources(nodeModules, new URL('../engine/js/', import.meta.url).pathname);
const realm = (seed) => new ClientRealm({ FakeTimers, sources, sdk: {}, activity: { count: 0 },
                                          nowMs: 1000, order: 0, seed });
const a = realm('s');
const common = await a.import(sources.resolve('@powersync/common', null));
const version = JSON.parse(fs.readFileSync(path.join(nodeModules, '@powersync/common/package.json'), 'utf8')).version;
if (version.startsWith('1.')) {
  assert.equal(typeof common.AbstractPowerSyncDatabase, 'function', 'the 1.x database class');
  assert.equal(typeof common.AbstractStreamingSyncImplementation, 'function', 'the 1.x sync loop');
  // 1.43.1's default is the JavaScript sync client; later 1.x default to the Rust client.
  const expected = version === '1.43.1' ? 'js' : 'rust';
  assert.equal(common.DEFAULT_STREAM_CONNECTION_OPTIONS.clientImplementation, expected, version);
} else {
  const entries = sdkEntriesOf(sources).entries;
  const internals = await a.import(entries.internals);
  assert.equal(typeof internals.BasePowerSyncDatabase, 'function', 'the 2.x database class');
}
// Two realms hold two module instances (fresh module state per client) ...
const b = realm('s');
const again = await b.import(sources.resolve('@powersync/common', null));
assert.notEqual(again, common, 'two realms share a module instance');
// ... with the same seeded randomness and their own fake clock.
assert.equal(vm.runInContext('Math.random()', a.context), vm.runInContext('Math.random()', b.context));
assert.notEqual(vm.runInContext('Math.random', a.context), Math.random);
assert.equal(vm.runInContext('Date.now()', a.context), 1000);
console.log(`ok: @powersync/common ${version} loads into a realm`);
