// One js-real client: an unmodified published SDK instance (BasePowerSyncDatabase from
// @powersync/shared-internals 1.3.0 + @powersync/common 2.3.0; a 1.x SDK's seams are in
// engine/js/sdk_client_v1.mjs) wired to the simulation through the seams the SDK itself
// offers (engine/js/bridge.mjs carries the calls):
//   SimAdapter   the SDK's DBAdapter: every statement runs synchronously on this client's
//                SQLite connection in the C++ process (the real core on the sim VFS)
//   SimRemote    the SDK's AbstractRemote: fetch() over the sim network (C++ decides the
//                content type from the SDK's accept header: BSON first, as the service does)
//   connector    ours: credentials from C++ (the scenario's token lifetime), uploads
//                through the app backend (POST /backend/upload), as the shim's connector
import { call, send, toWire, fromWire } from './client_bridge.mjs';
import { buildV1, bypassVersionCheck } from './sdk_client_v1.mjs';

// Runs inside the client's own vm context (engine/js/host.mjs): `sdk` holds that context's
// module instances of @powersync/common and @powersync/shared-internals.

// Log lines enter the trace: no absolute paths (a clone elsewhere gives the same hash).
function normalise(text) {
  return String(text)
    .replace(/file:\/\/\/[^\s)]*node_modules\//g, '<sdk>/')
    .replace(/\/[^\s)]*node_modules\//g, '<sdk>/')
    .replace(/\/[^\s)]*engine\/js\//g, '<host>/');
}

function errorText(error) {
  if (error === undefined || error === null) return '';
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

// READ_CONNECTIONS in @powersync/node 1.1.0 lib/db/WorkerConnectionPool.js.
const kReadConnections = 5;

// The 2.x seams: BasePowerSyncDatabase and friends from @powersync/shared-internals.
function buildV2(sdk, client) {
  const { common, internals } = sdk;
  const { DBAdapter, LockContext } = common;
  const { BasePowerSyncDatabase, AbstractRemote, AbstractStreamingSyncImplementation, Mutex,
          Semaphore } = internals;

  // `read`: 0 the write connection, 1..kReadConnections a read connection.
  class SimLockContext extends LockContext {
    constructor(read = 0) {
      super();
      this.read = read;
    }
    executeRaw(sql, params) {
      return Promise.resolve(client.sql(sql, params ?? [], this.read));
    }
  }

  class SimAdapter extends DBAdapter {
    constructor() {
      super();
      this.mutex = new Mutex();
      this.context = new SimLockContext();
      // @powersync/node 1.1.0 reads from a pool (lib/db/WorkerConnectionPool.js:
      // `this.readConnections = new Semaphore(...)` of READ_CONNECTIONS = 5 read-only
      // workers), never behind the write lock; C++ answers each read with the committed
      // state (engine/js/read_connections.hpp).
      this.readers = new Semaphore(
        Array.from({ length: kReadConnections }, (_, i) => new SimLockContext(i + 1)));
    }
    get name() { return client.name; }
    close() {}
    async refreshSchema() {}
    // WorkerConnectionPool.readLock's shape (its lock timeout is a real-time
    // AbortSignal.timeout, which nothing here can honour in sim time: not passed).
    async readLock(fn, options) {
      const lease = await this.readers.requestOne(options?.signal);
      try {
        return await fn(lease.item);
      } finally {
        lease.release();
      }
    }
    writeLock(fn, options) {
      return this.mutex.runExclusive(async () => {
        try {
          return await fn(this.context);
        } finally {
          this.notifyTouched();
        }
      }, options?.signal);
    }
    // What the update hook saw since the last lock (the adapter's
    // powersync_update_hooks('get') step; the C++ connection owns the only update hook).
    notifyTouched() {
      if (client.dead) return;
      const tables = client.touched();
      if (tables.length > 0) this.iterateListeners((l) => l.tablesUpdated?.({ tables }));
    }
  }

  class SimRemote extends AbstractRemote {
    async fetch(options) { return client.fetch(options); }
    async loadWebSocketSupport() { throw new Error('syncsim: the sim network speaks HTTP only'); }
  }

  class SimSync extends AbstractStreamingSyncImplementation {
    constructor(options) {
      super(options);
      this.locks = { crud: new Mutex(), sync: new Mutex() };
    }
    obtainLock({ type, callback, signal }) {
      return this.locks[type].runExclusive(callback, signal);
    }
  }

  class SimDatabase extends BasePowerSyncDatabase {
    openDBAdapter() { return client.adapter; }
    async _initialize() {}
    generateSyncStreamImplementation(connector, options) {
      return new SimSync({
        ...this.commonSyncOptions(connector, options),
        remote: new SimRemote(connector, this.logger),
      });
    }
  }

  bypassVersionCheck(SimDatabase, BasePowerSyncDatabase, client);
  const adapter = new SimAdapter();
  client.adapter = adapter;
  const logger = {
    log: (record) => {
      if (record.level < 30) return;  // info and above
      const error = errorText(record.error);
      client.logLine(record.level, error ? `${record.message}: ${error}` : record.message);
    },
  };
  return {
    adapter,
    logger,
    database: (schema) => new SimDatabase({ schema, logger }),
    connectOptions: (o) => ({
      checkpointMode: o.checkpoint_mode ?? 'requests',
      retryDelayMs: o.retry_delay_ms ?? 5000,
      crudUploadThrottleMs: o.crud_upload_throttle_ms ?? 1000,
    }),
  };
}

export class SdkClient {
  constructor(sdk, message, activity) {
    this.name = message.client;
    this.activity = activity;
    this.options = message.options ?? {};
    this.dead = false;
    this.nextRequest = 1;
    this.requests = new Map();  // req -> pending fetch state
    this.deferred = [];         // a BEGIN not sent yet (sql())
    this.known = null;          // what C++ last reported about the connection (sql())
    this.readers = new Set();   // read connections with a read transaction open (sql())
    this.subscriptions = new Map();  // the app's handle -> SyncStream.subscribe()'s promise
    const client = this;
    const { Schema, Table, column } = sdk.common;
    const seams = sdk.internals ? buildV2(sdk, client) : buildV1(sdk, client);
    this.seams = seams;
    this.adapter = seams.adapter;
    this.logger = seams.logger;

    const tables = {
      todos: new Table({ description: column.text }),
      notes: new Table({ description: column.text }),
    };
    if (this.options.stream_tables) tables.items = new Table({ description: column.text });
    tables.events = new Table({ description: column.text }, { insertOnly: true });

    this.connector = {
      fetchCredentials: async () => {
        // The latency the C++ port's connector waits, from the same PRNG stream.
        const { value } = client.bridge({ op: 'draw', client: client.name,
                                          what: 'credentials_latency' }, 'drawn');
        await new Promise((resolve) => setTimeout(resolve, value / 1000));
        const { token } = client.bridge({ op: 'credentials', client: client.name }, 'token');
        return { endpoint: 'https://powersync.sim', token };
      },
      uploadData: async (database) => {
        const batch = await database.getCrudBatch(100);
        if (!batch) return;
        const clientId = await database.getClientId();
        const response = await client.fetch({
          resource: 'https://backend.sim/backend/upload',
          request: { method: 'POST', headers: { 'content-type': 'application/json' },
                     body: JSON.stringify({ client_id: clientId, crud: batch.crud.map((e) => e.toJSON()) }) },
          expectStreamingResponse: false,
        });
        if (response.status !== 200) {
          throw new Error(`upload failed: HTTP ${response.status}: ${await response.text()}`);
        }
        // The documented custom setup: the backend answers with the custom write checkpoint
        // it wrote, which the connector passes to complete() (engine/sdk_shim_upload.cpp).
        const custom = client.options.custom_write_checkpoints
          ? JSON.parse(await response.text())?.data?.write_checkpoint : undefined;
        await batch.complete(typeof custom === 'string' ? custom : undefined);
        // The batch is done (ps_crud deleted, target written): what the port reports as
        // on_uploaded at the same point (engine/sdk_shim_upload.cpp), synchronously.
        client.bridge({ op: 'uploaded', client: client.name });  // no reply (bridge.mjs)
      },
    };
    // clients.post_checkpoint_request "backend" (docs/protocol.md §2.2.6): the connector's
    // postCheckpointRequest goes through the app backend, as the port's does
    // (engine/sdk_shim_checkpoint_requests.cpp); the SDK passes it no abort signal.  Requests
    // mode only: in legacy mode the SDK warns about the hook and never calls it.
    if (this.options.post_checkpoint_request_via_backend && this.options.checkpoint_mode === 'requests') {
      this.connector.postCheckpointRequest = async (clientId, requestId) => {
        const path = '/backend/checkpoint-request';
        const response = await client.fetch({
          resource: `https://backend.sim${path}`,
          request: { method: 'POST', headers: { 'content-type': 'application/json' },
                     body: JSON.stringify({ client_id: clientId, checkpoint_request_id: requestId }) },
          expectStreamingResponse: false,
        });
        const text = await response.text();
        if (response.status !== 200) {
          throw new Error(`Received ${response.status} when getting from ${path}: ${text}`);
        }
        return String(JSON.parse(text).data.checkpoint_request_id);
      };
    }
    this.database = seams.database(new Schema(tables));
  }

  // One SDK log line into the trace (no absolute paths).
  logLine(level, message) {
    this.bridge({ op: 'log', client: this.name, level, message: normalise(message) });
  }

  // A synchronous bridge call on behalf of this client (a killed client makes none).
  bridge(message, ...replyOps) {
    if (this.dead) throw new Error('the app was closed');
    this.activity.count++;
    if (replyOps.length === 0) {
      send(message);
      return null;
    }
    return call(message, ...replyOps);
  }

  // A statement on this client's connection.  Two round trips are saved without changing
  // what runs where or in which order (docs/performance-js-real.md, "The real JS SDK"):
  // a transaction's BEGIN, issued on a connection C++ last reported in autocommit mode during
  // this same event, travels with the transaction's next statement; and `touched` (after
  // every write lock) is answered here from the tables C++ last reported touched during this
  // same event (a reply-less `touched` then clears them on the C++ side in order).  Within one
  // event only this client's own bridge calls run C++ code on its connection, so both facts
  // still hold.
  // `read` > 0: a read connection's statement (nothing deferred, nothing learnt about the
  // write connection).
  sql(sql, params, read = 0) {
    if (read > 0) {
      if (this.readerStatementKnown(sql, params, read)) {
        return { columnNames: [], rawRows: [], rowsAffected: 0, insertId: 0 };
      }
      const message = { op: 'sql', client: this.name, sql, params: params.map(toWire), read };
      this.takeDeferred(message);
      const reply = this.bridge(message, 'rows', 'sql_error');
      if (reply.op === 'sql_error' && reply.before_failed) {
        throw new Error(`syncsim host: a deferred BEGIN failed: ${reply.message}`);
      }
      if (reply.op === 'rows') this.readerTransition(sql, read);
      return this.rowsOrThrow(reply);
    }
    if (!this.dead && sql === 'COMMIT' && params.length === 0 &&
        this.known?.epoch === this.activity.epoch && this.known.autocommit === false) {
      // The write connection's transaction ends: C++ would answer what it last reported
      // (COMMIT changes neither sqlite3_changes nor the insert id, and fires no update hook).
      this.replyless({ op: 'sql', client: this.name, sql, params: [] });
      this.known.autocommit = true;
      return { columnNames: [], rawRows: [], rowsAffected: this.known.changes,
               insertId: this.known.insertId };
    }
    if (!this.dead &&
        (sql === 'BEGIN' || sql === 'BEGIN IMMEDIATE') && params.length === 0 &&
        this.known?.epoch === this.activity.epoch && this.known.autocommit) {
      this.activity.count++;
      this.deferred.push(sql);
      this.known.autocommit = false;
      return { columnNames: [], rawRows: [], rowsAffected: this.known.changes,
               insertId: this.known.insertId };
    }
    const message = { op: 'sql', client: this.name, sql, params: params.map(toWire) };
    this.takeDeferred(message);
    const reply = this.bridge(message, 'rows', 'sql_error');
    this.known = reply.op === 'rows' && typeof reply.autocommit === 'boolean'
      ? { epoch: this.activity.epoch, autocommit: reply.autocommit, touched: reply.touched,
          changes: reply.changes, insertId: reply.insert_id }
      : null;
    if (reply.op === 'sql_error' && reply.before_failed) {
      throw new Error(`syncsim host: a deferred BEGIN failed: ${reply.message}`);
    }
    return this.rowsOrThrow(reply);
  }

  // A statement whose reply the host knows travels without one (engine/js/bridge.mjs
  // `noreply`): queued with this client's deferred BEGINs, it reaches C++ with the next line
  // the host writes, and no C++ code runs in between, so C++ runs it exactly where it ran
  // alone.  Saves a round trip per COMMIT and per read transaction's BEGIN and COMMIT
  // (docs/performance-js-real.md, "The real JS SDK").
  replyless(message) {
    this.activity.count++;
    message.noreply = true;
    this.takeDeferred(message);
    send(message);
  }

  // A read connection's BEGIN or COMMIT whose outcome is known: C++ opens or closes the
  // slot's read transaction (engine/js/read_connections.cpp run()) and answers empty rows.
  // `readers` mirrors which slots C++ has a read transaction open on (this life's only).
  readerStatementKnown(sql, params, read) {
    if (this.dead || params.length !== 0) return false;
    const begin = sql === 'BEGIN' || sql === 'BEGIN IMMEDIATE' || sql === 'BEGIN DEFERRED';
    if (!(begin && !this.readers.has(read)) && !(sql === 'COMMIT' && this.readers.has(read))) {
      return false;
    }
    this.replyless({ op: 'sql', client: this.name, sql, params: [], read });
    this.readerTransition(sql, read);
    return true;
  }

  readerTransition(sql, read) {
    const word = sql.trimStart().split(/\s/, 1)[0].toUpperCase();
    if (word === 'BEGIN') this.readers.add(read);
    if (word === 'COMMIT' || word === 'END' || word === 'ROLLBACK') this.readers.delete(read);
  }

  // The write connection's state at the start of this event (host.mjs): as good as a reply
  // of this event for deferring a BEGIN; it says nothing about the update hook.
  learn(state) {
    this.known = { epoch: this.activity.epoch, autocommit: state.autocommit, touched: null,
                   changes: state.changes, insertId: state.insert_id };
  }

  // A deferred BEGIN travels with this client's next statement, whichever connection runs
  // it: C++ then runs it exactly where it would have run alone (js_real_client.cpp sql()).
  takeDeferred(message) {
    if (this.deferred.length === 0) return;
    message.before = this.deferred;
    this.deferred = [];
  }

  rowsOrThrow(reply) {
    if (reply.op === 'sql_error') {
      const error = new Error(reply.message);
      error.code = reply.code;
      throw error;
    }
    return {
      columnNames: reply.columns,
      rawRows: reply.rows.map((row) => row.map(fromWire)),
      rowsAffected: reply.changes,
      insertId: reply.insert_id,
    };
  }

  // The adapters' powersync_update_hooks('get') step: the tables touched since the last call.
  // Answered here when this event's last write-connection reply listed them (sql()).
  touched() {
    const known = this.known?.epoch === this.activity.epoch ? this.known : null;
    if (known && Array.isArray(known.touched) && this.deferred.length === 0) {
      const tables = known.touched;
      known.touched = [];
      if (tables.length === 0) {
        this.activity.count++;
        return [];
      }
      this.bridge({ op: 'touched', client: this.name, noreply: true });
      return [...tables];
    }
    const { tables } = this.bridge({ op: 'touched', client: this.name }, 'tables');
    if (known && this.deferred.length === 0) known.touched = [];
    return tables;
  }

  connect() {
    this.database
      .connect(this.connector, this.seams.connectOptions(this.options))
      .catch((e) => {
        const error = errorText(e);
        this.logLine(50, error ? `connect failed: ${error}` : 'connect failed');
      });
  }

  disconnect() {
    this.database.disconnect().then(
      () => this.notice('disconnected'),
      (e) => this.notice('disconnected', errorText(e)));
  }

  notice(what, error = '', extra = {}) {
    if (!this.dead) this.bridge({ op: 'notice', client: this.name, what, error, ...extra });
  }

  // The app's sync-stream calls (the workload's churn, engine/sdk_shim_streams.cpp), through
  // the SDK's public API (@powersync/shared-internals 1.3.0 ConnectionManager.stream):
  // db.syncStream(name, params).subscribe({ttl, priority}) resolves to a
  // SyncStreamSubscription whose unsubscribe() drops its refcount; unsubscribeAll() runs the
  // core's {unsubscribe}.  The app holds each handle until it releases it (a handle the
  // garbage collector found would log "leaked" on a schedule nobody controls).
  stream(message) {
    if (this.dead) return;
    if (typeof this.database.syncStream !== 'function') {
      // Validation refuses service.streams for SDKs without the API (scenario_parse.cpp).
      throw new Error(`host: ${this.name}'s SDK has no syncStream() API`);
    }
    const failed = (what) => (e) => this.logLine(50, `${what} failed: ${errorText(e)}`);
    const stream = () => this.database.syncStream(message.name, message.params ?? null);
    if (message.action === 'subscribe') {
      const options = {};
      if (message.ttl !== undefined) options.ttl = message.ttl;
      if (message.priority !== undefined) options.priority = message.priority;
      const pending = stream().subscribe(options);
      pending.catch(failed(`subscribe ${message.name}`));
      this.subscriptions.set(message.handle, pending);
    } else if (message.action === 'release') {
      const pending = this.subscriptions.get(message.handle);
      this.subscriptions.delete(message.handle);
      pending?.then((subscription) => subscription.unsubscribe(), () => {});
    } else if (message.action === 'unsubscribe_all') {
      stream().unsubscribeAll().catch(failed(`unsubscribeAll ${message.name}`));
    } else {
      throw new Error(`host: unknown stream action ${message.action}`);
    }
  }

  // The app's requestCheckpoint() and CheckpointRequest.waitForSync({signal}) (the workload,
  // engine/workload.cpp); each settles with a notice for C++'s call number.  1.x has neither.
  requestCheckpoint(call) {
    this.checkpointRequests ??= new Map();
    const settle = (id, e) =>
      this.notice('requested', e ? errorText(e) : '', id ? { call, id } : { call });
    Promise.resolve()
      .then(() => this.database.requestCheckpoint())
      .then((r) => {
        this.checkpointRequests.set(String(r.requestId), r);
        settle(String(r.requestId));
      }, (e) => settle(null, e));
  }

  waitForSync(call, id) {
    this.waits ??= new Map();
    const controller = new AbortController();
    this.waits.set(call, controller);
    const settle = (e) => {
      this.waits.delete(call);
      this.notice('waited', e ? errorText(e) : '', { call });
    };
    Promise.resolve()
      .then(() => this.checkpointRequests.get(id).waitForSync({ signal: controller.signal }))
      .then(() => settle(null), settle);
  }

  abortWait(call, reason) { this.waits?.get(call)?.abort(reason); }

  // The app wrote through C++ (the workload): the tables its update hook saw.
  tablesChanged(tables) {
    if (!this.dead) this.adapter.iterateListeners((l) => l.tablesUpdated?.({ tables }));
  }

  // The app died or closed: this SDK instance makes no further calls; its pending requests
  // never complete.  The host drops its realm with its fake timers.
  kill() {
    this.dead = true;
    for (const r of this.requests.values()) r.fail?.(new Error('the app was closed'));
    this.requests.clear();
  }

  inFlight() {
    return [...this.requests.entries()].map(([req, r]) =>
      ({ client: this.name, req, method: r.method, path: r.path }));
  }

  // fetch() over the sim network; the answer comes as response/chunk/end/reset events.
  fetch({ resource, request, expectStreamingResponse }) {
    const req = this.nextRequest++;
    const url = new URL(resource);
    const headers = { ...(request.headers ?? {}) };
    return new Promise((resolve, reject) => {
      const state = { resolve, reject, stream: !!expectStreamingResponse, chunks: [], reads: [],
                      done: false, error: null, method: request.method ?? 'GET',
                      path: url.pathname };
      state.fail = (e) => {
        if (!state.response) reject(e);
        state.error = e;
        state.flush?.();
      };
      this.requests.set(req, state);
      const signal = request.signal;
      if (signal) {
        const onAbort = () => {
          if (!this.requests.has(req)) return;  // answered already: nothing to abort
          this.requests.delete(req);
          this.bridge({ op: 'abort', client: this.name, req });
          const e = new Error('The operation was aborted.');
          e.name = 'AbortError';
          state.fail(e);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.bridge({ op: 'fetch', client: this.name, req, method: request.method ?? 'GET',
                    path: url.pathname + url.search, headers, body: request.body ?? '',
                    stream: state.stream });
    });
  }

  onNetwork(message) {
    const state = this.requests.get(message.req);
    if (!state) return;  // aborted by the SDK after C++ sent it
    if (message.op === 'response') {
      state.response = true;
      const body = fromWire(message.body);
      const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
      const streaming = state.stream && message.status === 200;
      if (!streaming) this.requests.delete(message.req);
      state.resolve(this.responseObject(message, text, streaming ? state : null, message.req));
      return;
    }
    if (message.op === 'chunk') state.chunks.push(fromWire(message.data));
    if (message.op === 'end') state.done = true;
    if (message.op === 'reset') {
      state.error = new TypeError(`network error: ${message.why}`);
      if (!state.response) state.reject(state.error);
    }
    if (message.op !== 'chunk') this.requests.delete(message.req);
    state.flush?.();
  }

  responseObject(message, text, streamState, req) {
    const contentType = message.content_type ?? 'application/json';
    const client = this;
    return {
      ok: message.status >= 200 && message.status < 300,
      status: message.status,
      statusText: String(message.status),
      headers: { get: (name) => (name.toLowerCase() === 'content-type' ? contentType : null) },
      text: async () => text,
      json: async () => JSON.parse(text),
      body: streamState ? {
        getReader() {
          streamState.flush = () => {
            while (streamState.reads.length > 0) {
              if (streamState.chunks.length > 0) {
                streamState.reads.shift().resolve({ done: false, value: streamState.chunks.shift() });
              } else if (streamState.error) {
                streamState.reads.shift().reject(streamState.error);
              } else if (streamState.done) {
                streamState.reads.shift().resolve({ done: true, value: undefined });
              } else {
                break;
              }
            }
          };
          return {
            read: () => new Promise((resolve, reject) => {
              streamState.reads.push({ resolve, reject });
              streamState.flush();
            }),
            cancel: async () => {
              if (client.requests.has(req)) {
                client.requests.delete(req);
                if (!client.dead) client.bridge({ op: 'abort', client: client.name, req });
              }
              streamState.done = true;
              streamState.flush();
            },
            releaseLock: () => {},
          };
        },
      } : null,
    };
  }
}
