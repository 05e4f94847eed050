/**
 * The relay's control messages (#16), JSON on the sealed control sessions between neighbours.
 * A relayed control session between `from` and `to` is a byte stream cut into `relay` messages
 * (its bytes are the endpoints' own v2 handshake and sealed frames: opaque to every relay);
 * `relay-close` ends it. Relays forward both hop by hop, one hop less each time.
 *
 *   {"type":"relay","from":"edge-1","to":"edge-2","stream":3141592653,"hops":3,"data":"<base64>"}
 *   {"type":"relay-close","from":"edge-2","to":"edge-1","stream":3141592653,"hops":4,"why":"…"}
 *
 * `stream` is chosen by the side that opened it; (opener, stream) names it at both ends. The
 * parse is the check every message read from the network passes. Pure.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ControlMessage } from "../control/mod.ts";
import { checkPeerName } from "../../config/names.ts";

export const RELAY_MESSAGE_TYPE = "relay";
export const RELAY_CLOSE_MESSAGE_TYPE = "relay-close";
/** Relays a message may pass (the opener's `hops`). */
export const RELAY_MAX_HOPS = 4;
/**
 * Stream bytes per message: a sealed control frame holds 64 KiB; base64 grows data by a third,
 * and the JSON around it is small.
 */
export const RELAY_CHUNK_BYTES = 16 * 1024;
/** Longest `why` kept. */
export const MAX_RELAY_WHY = 200;

/** A relay message, parsed. */
export type RelayMessage =
  | { type: "relay"; from: string; to: string; stream: number; hops: number; data: Uint8Array }
  | { type: "relay-close"; from: string; to: string; stream: number; hops: number; why: string };

/** True for the message types the relay owns. */
export function isRelayMessage(msg: ControlMessage): boolean {
  return msg.type === RELAY_MESSAGE_TYPE || msg.type === RELAY_CLOSE_MESSAGE_TYPE;
}

/** The message as it goes on a control session. */
export function relayWire(m: RelayMessage): ControlMessage {
  const head = { type: m.type, from: m.from, to: m.to, stream: m.stream, hops: m.hops };
  return m.type === "relay"
    ? {
      ...head,
      data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length).toString("base64"),
    }
    : { ...head, why: m.why };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A message read from a session, checked; or why it was dropped. */
export function parseRelayMessage(
  msg: ControlMessage,
  fleet: ReadonlySet<string>,
): { ok: true; m: RelayMessage } | { ok: false; why: string } {
  const { type, from, to, stream, hops } = msg;
  if (type !== RELAY_MESSAGE_TYPE && type !== RELAY_CLOSE_MESSAGE_TYPE) {
    return { ok: false, why: "not a relay message" };
  }
  for (const [k, v] of [["from", from], ["to", to]] as const) {
    if (typeof v !== "string" || checkPeerName(v) !== null) {
      return { ok: false, why: `${k} is not a peer name` };
    }
    if (!fleet.has(v)) return { ok: false, why: `${k} ${v} is not in the fleet` };
  }
  if (from === to) return { ok: false, why: "from and to are the same box" };
  if (
    typeof stream !== "number" || !Number.isInteger(stream) || stream < 0 || stream > 0xffffffff
  ) {
    return { ok: false, why: "stream is not a u32" };
  }
  if (typeof hops !== "number" || !Number.isInteger(hops) || hops < 0 || hops > RELAY_MAX_HOPS) {
    return { ok: false, why: "hops out of range" };
  }
  const head = { from: from as string, to: to as string, stream, hops };
  if (type === RELAY_CLOSE_MESSAGE_TYPE) {
    const why = typeof msg.why === "string" ? msg.why.slice(0, MAX_RELAY_WHY) : "";
    return { ok: true, m: { type, ...head, why } };
  }
  const data = msg.data;
  if (typeof data !== "string" || !BASE64.test(data) || data.length % 4 !== 0) {
    return { ok: false, why: "data is not base64" };
  }
  const bytes = new Uint8Array(Buffer.from(data, "base64"));
  if (bytes.length === 0 || bytes.length > RELAY_CHUNK_BYTES) {
    return { ok: false, why: `data of ${bytes.length} bytes (1..${RELAY_CHUNK_BYTES})` };
  }
  return { ok: true, m: { type, ...head, data: bytes } };
}
