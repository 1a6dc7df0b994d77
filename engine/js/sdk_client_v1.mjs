// The 1.x seams of one js-real client (@powersync/common 1.43.1/1.47.0/1.54.0, the SDKs that
// pair with cores 0.4.x): what engine/js/sdk_client.mjs builds when the realm holds a 1.x
// SDK.  1.x has no base adapter class and no shared-internals package, so this mirrors what
// @powersync/node (0.14.3 for 1.43.1) puts around @powersync/common:
//   SimAdapterV1   the whole DBAdapter interface (WorkerConnectionPool's shape: BEGIN /
//                  COMMIT / ROLLBACK transactions, the update hook read after every write
//                  lock), on one connection in the C++ process
//   SimRemoteV1    AbstractRemote with a `fetchImplementation` over the sim network
//   SimSyncV1      AbstractStreamingSyncImplementation locking with async-mutex
//                  (NodeStreamingSyncImplementation.obtainLock)
//   SimDatabaseV1  AbstractPowerSyncDatabase with SqliteBucketStorage (PowerSyncDatabase)
// Connections use HTTP (1.x defaults to WebSocket; the sim network speaks HTTP only) and the
// SDK's own default sync client: for 1.43.1 that is the JavaScript client, which never calls
// powersync_control.

// A 1.x QueryResult from the bridge's rows (insertId matters: the JavaScript client reads
// `sync_local`'s outcome from it).
function queryResult(raw) {
  const array = raw.rawRows.map((row) => {
    const record = {};
    raw.columnNames.forEach((name, i) => (record[name] = row[i]));
    return record;
  });
  return {
    insertId: raw.insertId,
    rowsAffected: raw.rowsAffected,
    rows: { _array: array, length: array.length, item: (i) => array[i] },
  };
}

// js-logger's interface (1.x loggers): info and above enter the trace, as for 2.x.
function jsLogger(log) {
  const text = (args) => args.map((a) => {
    if (a instanceof Error) return `${a.name}: ${a.message}`;
    if (typeof a === 'string') return a;
    try {
      return JSON.stringify(a);
    } catch {
      return String(a);
    }
  }).join(' ');
  const at = (level) => (...args) => { if (level >= 30) log(level, text(args)); };
  return {
    trace: at(10), debug: at(20), info: at(30), log: at(30), warn: at(40), error: at(50),
    time() {}, timeEnd() {}, setLevel() {}, getLevel: () => 0, enabledFor: () => true,
  };
}

// Version skew forced past the SDK's own version check (the scenario's sdk_package_force on
// a core the package refuses, engine/js/README.md "Version skew"): the SDK's loadVersion
// (1.43.1: _loadVersion) still runs and sets sdkVersion; its refusal becomes a warning line
// in the trace instead of failing initialize().
export function bypassVersionCheck(Database, Base, client) {
  if (!client.options.sdk_package_force) return;
  const name = typeof Base.prototype.loadVersion === 'function' ? 'loadVersion' : '_loadVersion';
  const check = Base.prototype[name];
  if (typeof check !== 'function') throw new Error('syncsim: no SDK version check to force');
  Database.prototype[name] = async function loadVersionForced() {
    try {
      await check.call(this);
    } catch (e) {
      if (!/Unsupported powersync extension version/.test(e?.message ?? '')) throw e;
      client.logLine(40, `host: sdk_package_force: running past the SDK's refusal: ${e.message}`);
    }
  };
}

export function buildV1(sdk, client) {
  const { common } = sdk;
  const { AbstractPowerSyncDatabase, AbstractRemote, AbstractStreamingSyncImplementation,
          BaseObserver, SqliteBucketStorage } = common;
  const Mutex = common.Mutex ?? sdk.mutex?.Mutex;
  if (!Mutex) throw new Error('syncsim: no Mutex for this 1.x SDK (async-mutex not installed)');

  // One lock context (WorkerConnectionPool hands the connection itself); plain own functions:
  // AbstractPowerSyncDatabase.readTransaction spreads it ({...tx}).
  const raw = (sql, params) => client.sql(sql, params ?? []);
  const connection = {
    execute: async (sql, params) => queryResult(raw(sql, params)),
    executeRaw: async (sql, params) => raw(sql, params).rawRows,
    executeBatch: async (sql, sets = []) => {
      let rowsAffected = 0;
      let insertId;
      for (const set of sets) {
        const r = raw(sql, set);
        rowsAffected += r.rowsAffected ?? 0;
        insertId = r.insertId;
      }
      return { rowsAffected, insertId };
    },
    getAll: async (sql, params) => queryResult(raw(sql, params)).rows._array,
    getOptional: async (sql, params) => queryResult(raw(sql, params)).rows._array[0] ?? null,
    get: async (sql, params) => {
      const row = queryResult(raw(sql, params)).rows._array[0];
      if (row == null) throw new Error('Result set is empty');
      return row;
    },
  };

  class SimAdapterV1 extends BaseObserver {
    constructor() {
      super();
      this.mutex = new Mutex();
    }
    get name() { return client.name; }
    close() {}
    async refreshSchema() {}
    readLock(fn) { return this.mutex.runExclusive(() => fn(connection)); }
    writeLock(fn) {
      return this.mutex.runExclusive(async () => {
        try {
          return await fn(connection);
        } finally {
          this.notifyTouched();
        }
      });
    }
    readTransaction(fn) { return this.readLock((ctx) => this.transaction(ctx, fn)); }
    writeTransaction(fn) { return this.writeLock((ctx) => this.transaction(ctx, fn)); }
    // WorkerConnectionPool.internalTransaction (@powersync/node 0.14.3).
    async transaction(ctx, fn) {
      let finalized = false;
      const commit = async () => {
        if (!finalized) {
          finalized = true;
          await ctx.execute('COMMIT');
        }
        return { rowsAffected: 0 };
      };
      const rollback = async () => {
        if (!finalized) {
          finalized = true;
          await ctx.execute('ROLLBACK');
        }
        return { rowsAffected: 0 };
      };
      try {
        await ctx.execute('BEGIN');
        const result = await fn({ ...ctx, commit, rollback });
        await commit();
        return result;
      } catch (ex) {
        try {
          await rollback();
        } catch {
          // as the platform adapter: a failed rollback is ignored
        }
        throw ex;
      }
    }
    getAll(sql, params) { return this.readLock((ctx) => ctx.getAll(sql, params)); }
    getOptional(sql, params) { return this.readLock((ctx) => ctx.getOptional(sql, params)); }
    get(sql, params) { return this.readLock((ctx) => ctx.get(sql, params)); }
    execute(sql, params) { return this.writeLock((ctx) => ctx.execute(sql, params)); }
    executeRaw(sql, params) { return this.writeLock((ctx) => ctx.executeRaw(sql, params)); }
    executeBatch(sql, sets) {
      return this.writeTransaction((ctx) => ctx.executeBatch(sql, sets));
    }
    // What the update hook saw since the last lock (powersync_update_hooks('get') in the
    // platform adapter; the C++ connection owns the only update hook).
    notifyTouched() {
      if (client.dead) return;
      const tables = client.touched();
      if (tables.length > 0) {
        this.iterateListeners((l) => l.tablesUpdated?.({ tables, groupedUpdates: {}, rawUpdates: [] }));
      }
    }
  }

  // fetch(url, init) as AbstractRemote calls it; only the sync stream is read as a stream.
  const fetchImplementation = (url, init = {}) =>
    client.fetch({ resource: url, request: init,
                   expectStreamingResponse: new URL(url).pathname === '/sync/stream' });

  class SimRemoteV1 extends AbstractRemote {
    createSocket() { throw new Error('syncsim: the sim network speaks HTTP only'); }
  }

  class SimSyncV1 extends AbstractStreamingSyncImplementation {
    constructor(options) {
      super(options);
      this.locks = { crud: new Mutex(), sync: new Mutex() };
    }
    obtainLock({ type, callback, signal }) {
      return this.locks[type].runExclusive(async () => {
        if (signal?.aborted) throw new Error('Aborted');
        return callback();
      });
    }
  }

  const logger = jsLogger((level, message) => client.logLine(level, message));

  class SimDatabaseV1 extends AbstractPowerSyncDatabase {
    async _initialize() {}
    openDBAdapter() { return client.adapter; }
    generateBucketStorageAdapter() { return new SqliteBucketStorage(this.database, this.logger); }
    generateSyncStreamImplementation(connector, options) {
      const remote = new SimRemoteV1(connector, this.logger, { fetchImplementation });
      return new SimSyncV1({
        adapter: this.bucketStorageAdapter,
        remote,
        uploadCrud: async () => {
          await this.waitForReady();
          await connector.uploadData(this);
        },
        ...options,
        identifier: this.database.name,
        logger: this.logger,
      });
    }
  }

  bypassVersionCheck(SimDatabaseV1, AbstractPowerSyncDatabase, client);
  const adapter = new SimAdapterV1();
  client.adapter = adapter;
  return {
    adapter,
    logger,
    database: (schema) => new SimDatabaseV1({ database: adapter, schema, logger }),
    // 1.x has no checkpoint-request mode (the scenario allows legacy only) and defaults to
    // WebSocket; the sync client stays the SDK's default.
    connectOptions: (o) => ({
      connectionMethod: 'http',
      retryDelayMs: o.retry_delay_ms ?? 5000,
      crudUploadThrottleMs: o.crud_upload_throttle_ms ?? 1000,
    }),
  };
}
