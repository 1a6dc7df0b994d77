// The bridge as seen from inside one client's vm context (engine/js/host.mjs gives every
// SDK instance its own realm).  Messages are parsed and built with the context's own JSON and
// Uint8Array, so the SDK never meets an object of another realm (an `instanceof Uint8Array`
// in the SDK would fail on the host's).  The host injects `__syncsimHost` (line transport and
// base64); the protocol itself is engine/js/bridge.mjs.
const host = globalThis.__syncsimHost;

// A message C++ answers with nothing: it travels with the next synchronous call or `idle`
// (engine/js/bridge.mjs queueLine).
export function send(message) {
  host.queueLine(JSON.stringify(message));
}

// A synchronous call: send, then the next message is the reply.
export function call(message, ...replyOps) {
  const reply = JSON.parse(host.callLine(JSON.stringify(message)));
  if (!replyOps.includes(reply.op)) {
    throw new Error(`bridge: expected ${replyOps.join('|')} after ${message.op}, got ${reply.op}`);
  }
  return reply;
}

export function toWire(value) {
  if (ArrayBuffer.isView(value)) return { b64: host.toBase64(value) };
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value === undefined ? null : value;
}

export function fromWire(value) {
  if (value !== null && typeof value === 'object' && typeof value.b64 === 'string') {
    return new Uint8Array(host.fromBase64(value.b64));
  }
  return value;
}
