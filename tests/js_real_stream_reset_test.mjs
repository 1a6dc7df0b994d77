// A finding in a published SDK (issue 16, docs/sdk-diff.md "1.47.0 on 0.4.11"): in
// @powersync/common 1.46.0-1.51.x, AbstractRemote.postStreamRaw (HTTP streaming) reads the
// response body in `consumeStream()`, whose rejection is only logged
// (`consumeStream().catch(ex => this.logger.error('Error consuming stream', ex))`,
// lib/client/sync/stream/AbstractRemote.js:496 in 1.47.0): a network error after the response
// began leaves the DataStream open, so the sync loop waits on it for ever -- "connected", no
// stream, no retry.  1.43.1 closes the stream on the same error (`catch (ex) { stream.close();
// throw ex; }`); 1.52.0 removed DataStream (powersync-js #821).
// Usage: node --experimental-vm-modules tests/js_real_stream_reset_test.mjs <installed 1.x
// project dir>.  Exit 0 when the SDK behaves as stated for its version, 1 otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ModuleSources, ClientRealm } from '../engine/js/realm.mjs';

const dir = process.argv[2];
const nodeModules = path.join(dir, 'node_modules');
const FakeTimers = createRequire(path.join(nodeModules, 'syncsim-test.cjs'))('@sinonjs/fake-timers');
const sources = new ModuleSources(nodeModules, new URL('../engine/js/', import.meta.url).pathname);
const realm = new ClientRealm({ FakeTimers, sources, sdk: {}, activity: { count: 0 }, nowMs: 1000,
                                order: 0, seed: 's' });
const common = await realm.import(sources.resolve('@powersync/common', null));
const version = JSON.parse(
  fs.readFileSync(path.join(nodeModules, '@powersync/common/package.json'), 'utf8')).version;

const logged = [];
const logger = {};
for (const level of ['trace', 'debug', 'info', 'log', 'warn', 'error']) {
  logger[level] = (...args) => logged.push(`${level}: ${args.map(String).join(' ')}`);
}
Object.assign(logger, { time() {}, timeEnd() {}, setLevel() {}, getLevel: () => 0,
                        enabledFor: () => true });

// One sync line, then the connection fails (what fetch's body reader does on a reset).
const line = new TextEncoder().encode('{"token_expires_in":3600}\n');
const fetchImplementation = async () => {
  let reads = 0;
  return {
    ok: true, status: 200, statusText: 'OK',
    headers: { get: () => 'application/x-ndjson' },
    body: {
      getReader: () => ({
        read: async () => {
          if (reads++ === 0) return { done: false, value: line };
          throw new TypeError('network error: connection reset');
        },
        cancel: async () => {},
        releaseLock: () => {},
      }),
    },
    text: async () => '',
  };
};

class Remote extends common.AbstractRemote {
  createSocket() { throw new Error('HTTP only'); }
}
const connector = { fetchCredentials: async () => ({ endpoint: 'https://sim', token: 't' }) };
const remote = new Remote(connector, logger, { fetchImplementation });
if (typeof remote.postStreamRaw !== 'function') {
  console.log(`skip: @powersync/common ${version} has no postStreamRaw (DataStream removed)`);
  process.exit(0);
}
const stream = await remote.postStreamRaw({ path: '/sync/stream', data: {} }, (l) => l);
// The sync loop pulls lines with read() (null once the stream closed).
const received = [];
(async () => {
  for (let d = await stream.read(); d !== null; d = await stream.read()) received.push(d);
})().catch(() => {});
// The realm's timers are fake (DataStream reschedules itself with setTimeout): move its
// clock a millisecond per hop, as the host's drain fires due timers.
for (let i = 0; i < 50; i++) {
  await new Promise((resolve) => setImmediate(resolve));
  realm.clock.tick(1);
}

const [major, minor] = version.split('.').map(Number);
const affected = major === 1 && minor >= 46 && minor <= 51;
if (affected) {
  assert.equal(received.length, 1, `${version}: the line before the reset was not delivered`);
  assert.equal(stream.closed, false, `${version}: the stream closed after the reset`);
  assert.ok(logged.some((l) => l.startsWith('error: Error consuming stream')),
            `${version}: no 'Error consuming stream' log: ${JSON.stringify(logged)}`);
  console.log(`ok: @powersync/common ${version} leaves the sync stream open after a reset ` +
              '(only logs "Error consuming stream"): the sync loop never retries');
} else {
  assert.equal(received.length, 1, `${version}: the line before the reset was not delivered`);
  assert.equal(stream.closed, true, `${version}: the stream stayed open after the reset`);
  console.log(`ok: @powersync/common ${version} closes the sync stream after a reset`);
}
