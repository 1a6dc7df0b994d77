// The Node side of the C++<->Node bridge of the js-real host (issue 16).  Its C++ twin is
// engine/js/bridge.hpp; both carry kProtocolVersion and must agree on every message below.
//
// Transport: the host's stdin/stdout, one JSON object per line ('\n'-terminated, UTF-8).
// Bytes travel as {"b64": "..."}.  Reads are synchronous (fs.readSync), so a SQL statement
// blocks the whole host until C++ answered it: the drain can never mistake a pending
// statement for quiescence, and nothing else can run meanwhile.
//
// C++ -> host (events; each one is followed by a drain that ends with an `idle` message):
//   {op:"init", v, now, seed}                 first message; host answers `ready`
//   {op:"next_run", now, seed, heap}          the next run reuses the process: every client's
//                                             realm dropped; host answers `ready` (with
//                                             heap_bytes after a full GC when `heap` is set)
//   {op:"open", client, now, user, seed, options, sdk}  new SDK instance (one app life) of
//                                             the named SDK project (default: the host's)
//   {op:"connect", client, now}  {op:"disconnect", client, now}  {op:"close", client, now}
//   {op:"tables_changed", client, now, tables}  the app wrote through C++: what its hook saw
//   {op:"stream", client, now, action, handle?, name?, params?, ttl?, priority?}  the app's
//                                             sync-stream call (sdk_client.mjs stream())
//   {op:"request_checkpoint", client, now, call}   the app's requestCheckpoint()
//   {op:"wait_for_sync", client, now, call, id}   CheckpointRequest.waitForSync({signal}) of
//                                             the request that answered `id`
//   {op:"abort_wait", client, now, call, reason}  the app aborts that signal (its timeout)
//   {op:"timer", now}                         sim time reached the earliest fake timer
//   {op:"response", client, req, now, status, content_type, body}   a plain response
//   {op:"chunk", client, req, now, data}      one line of a streaming response (bytes)
//   {op:"end", client, req, now}  {op:"reset", client, req, now, why}
// host -> C++ during a drain:
//   {op:"sql", client, sql, params, before?}  -> C++ runs `before` (a deferred BEGIN) first,
//                                       then replies {op:"rows", columns, rows, changes,
//                                       insert_id, autocommit, touched:[tables the update hook
//                                       saw since the last `touched`]} or {op:"sql_error",
//                                       message, before_failed?}   (synchronous)
//   {op:"sql", client, sql, params, read}     the same on read connection `read` (1..5, the
//                                       adapter's read pool, engine/js/read_connections.hpp):
//                                       replies {op:"rows", columns, rows, changes, insert_id}
//   {op:"sql", ..., noreply: true}  -> no reply: a statement whose result the host knows
//                                       (a COMMIT of the write connection's open transaction,
//                                       a read connection's BEGIN/COMMIT); it travels with the
//                                       next line (queueLine) and C++ runs it before that line.
//                                       If it fails anyway, C++ stops the run (it cannot tell
//                                       the SDK any more)
//   {op:"touched", client}          -> C++ replies {op:"tables", tables} (synchronous): the
//                                       tables the update hook saw since the last call; with
//                                       noreply: true when the host knows them from this
//                                       event's last reply (C++ clears them, in order)
//   {op:"credentials", client}      -> C++ replies {op:"token", token} (synchronous)
//   {op:"uploaded", client}                   no reply (queued): our connector's uploadData
//                                       completed its batch (batch.complete())
//   {op:"draw", client, what}       -> C++ replies {op:"drawn", value} (synchronous): the
//                                       client's own sim PRNG, the draws the C++ port makes:
//                                       what "random" is the SDK's Math.random() (a double in
//                                       [0,1)), "credentials_latency" the connector's latency (µs)
//   {op:"fetch", client, req, method, path, headers, body, stream}   (answered by events)
//   {op:"abort", client, req}  {op:"log", client, level, message}
//   {op:"notice", client, what:"disconnected", error}   disconnect() resolved
//   {op:"notice", client, what:"requested", call, id?, error}   requestCheckpoint() settled
//   {op:"notice", client, what:"waited", call, error}   waitForSync() settled
//   {op:"idle", next_timer, timers?:[{client, at, by}]}   the drain ended; next_timer and at
//                                 in µs (null: none); `by` is the SDK function that armed the
//                                 timer; `timers` only when some realm's timers changed since
//                                 the last idle (C++ keeps the last list otherwise).  Requests
//                                 in flight C++ knows itself (JsRealClient::pending)
import fs from 'node:fs';

export const kProtocolVersion = 5;

const kChunk = 1 << 16;
// One read buffer for the process: a fresh 64 KiB Buffer per read (about 8,000 per basic
// run) was off-heap memory whose pressure forced full GCs, each as slow as the heap is big --
// and a host kept across seeds has a bigger heap every run (docs/performance-js-real.md, js-real).
const chunk = Buffer.allocUnsafe(kChunk);
let pending = Buffer.alloc(0);

// Reads one line, blocking.  Returns null at end of input (C++ went away).
export function readLine() {
  for (;;) {
    if (pending.length > 0) {
      const nl = pending.indexOf(10);
      if (nl >= 0) {
        const line = pending.toString('utf8', 0, nl);
        pending = pending.subarray(nl + 1);
        return line;
      }
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, kChunk, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) return null;
    // C++ writes one line per write (NodeProcess::write_line), so a read is usually exactly
    // one whole line: decoded straight from `chunk`, no copy (js20).  (Bytes past `n` are an
    // older read's: a newline there does not count.)
    if (pending.length === 0) {
      const nl = chunk.indexOf(10);
      if (nl === n - 1) return chunk.toString('utf8', 0, nl);
    }
    // Copied out of `chunk`, which the next read overwrites; the common case (nothing
    // pending) copies only the bytes read.
    pending = pending.length === 0 ? Buffer.from(chunk.subarray(0, n))
                                   : Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

export function readMessage() {
  const line = readLine();
  return line === null ? null : JSON.parse(line);
}

// Messages C++ answers with nothing (log, fetch, abort, notice, uploaded, a `noreply` sql) wait here and travel with
// the next line that needs C++ now (a synchronous call or `idle`): every write wakes the C++
// side, and those wake-ups (pipe writes, context switches) were a large share of a js-real
// seed's CPU (docs/performance-js-real.md, "The real JS SDK").  C++ reads the same lines in the same
// order, so what it does with them is unchanged.
let queued = '';

export function queueLine(text) {
  queued += text + '\n';
}

export function sendLine(text) {
  const line = queued + text + '\n';
  queued = '';
  // A string goes to the pipe without a Buffer of ours (js20); a short write (not seen on a
  // blocking pipe) finishes from its bytes.
  const written = fs.writeSync(1, line);
  const length = Buffer.byteLength(line);
  if (written === length) return;
  const data = Buffer.from(line, 'utf8');
  let off = written;
  while (off < data.length) off += fs.writeSync(1, data, off, data.length - off);
}

export function send(message) {
  sendLine(JSON.stringify(message));
}

// A synchronous call: send, then the next message is the reply.
export function call(message, ...replyOps) {
  send(message);
  const reply = readMessage();
  if (reply == null) throw new Error('bridge: C++ side closed during ' + message.op);
  if (!replyOps.includes(reply.op)) {
    throw new Error(`bridge: expected ${replyOps.join('|')} after ${message.op}, got ${reply.op}`);
  }
  return reply;
}

export function toWire(value) {
  if (value instanceof Uint8Array) return { b64: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value === undefined ? null : value;
}

export function fromWire(value) {
  if (value !== null && typeof value === 'object' && typeof value.b64 === 'string') {
    return new Uint8Array(Buffer.from(value.b64, 'base64'));
  }
  return value;
}
