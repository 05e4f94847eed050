/**
 * The wire format of the control protocol's handshake (version 2), pure encoders and parsers:
 *
 *   header  "weave-agent\0" ‖ u8 min version ‖ u8 max version                       (14 bytes)
 *   record  u8 kind ‖ u16 length ‖ body  (length ≤ 512)
 *     HELLO        u8 flags ‖ nonce (32) ‖ E (32) ‖ u32 index ‖ [S (32) if flags & 1] ‖ name
 *                  E: a fresh X25519 key (base point) for node-key proofs; S: the sender's
 *                  node key; index: the receiver index it chose for this session; name: UTF-8,
 *                  1–63 printable bytes
 *     SHARES       one CPace share (32) per password slot: current, then previous (1 or 2)
 *     CONFIRM      dialer:   u8 n ‖ n tags (32), one per slot pair (i, j), i-major ‖ [key proof]
 *                  listener: u8 (i << 4 | j) of the chosen pair ‖ tag (32) ‖ [key proof]
 *     REFUSE       a short plaintext reason (UTF-8), then the sender closes
 *     AUTH_FAILED  [the listener's key proof (32)]: "no confirmation verified", then it closes
 *
 * Any parse error is a WireError "garbage" (or "oversize"), never an exception of another kind.
 *
 * @module
 */

import { concatBytes } from "./cpace.ts";
import type { FrameReader } from "./frame_reader.ts";
import { equalBytes } from "./session_keys.ts";
import { WireError } from "./wire_error.ts";

/** The protocol name every connection starts with. */
export const PROTOCOL_MAGIC: Uint8Array = new TextEncoder().encode("weave-agent\0");
/**
 * Oldest protocol version this agent speaks: 3. Version 1 leaked the password offline; version
 * 2 had this handshake but a rekey exchange that one end could abandon after the other had
 * switched keys (the session then died). Version 3 is version 2's handshake with the rekey
 * messages of `rekey.ts` (attempts, abort, the switched step).
 */
export const PROTOCOL_MIN_VERSION = 3;
/** Newest protocol version this agent speaks. */
export const PROTOCOL_MAX_VERSION = 3;
/** Length of the fixed header. */
export const HEADER_BYTES: number = PROTOCOL_MAGIC.length + 2;
/** Largest handshake record body. */
export const MAX_RECORD_BYTES = 512;
/** Longest peer name in a HELLO. */
export const MAX_NAME_BYTES = 63;
/** Password slots a side may offer: the current and the previous password. */
export const MAX_SLOTS = 2;
/** Length of keys, shares, nonces and tags. */
export const KEY_BYTES = 32;

/** Handshake record kinds. */
export const RecordKind = { HELLO: 1, CONFIRM: 2, REFUSE: 3, AUTH_FAILED: 4, SHARES: 5 } as const;

const HELLO_FIXED = 1 + 32 + 32 + 4;
const FLAG_NODE_KEY = 1;

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A protocol version range. */
export interface VersionRange {
  min: number;
  max: number;
}

/** The versions this build speaks. */
export const OUR_VERSIONS: VersionRange = {
  min: PROTOCOL_MIN_VERSION,
  max: PROTOCOL_MAX_VERSION,
};

/** The 14-byte header announcing a version range. */
export function encodeHeader(versions: VersionRange = OUR_VERSIONS): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(PROTOCOL_MAGIC);
  h[PROTOCOL_MAGIC.length] = versions.min;
  h[PROTOCOL_MAGIC.length + 1] = versions.max;
  return h;
}

/** Result of checking the peer's header against our version range. */
export type HeaderCheck =
  | { ok: true; version: number }
  | { ok: false; reason: "bad-header" | "bad-version"; message: string; theirs?: VersionRange };

/** Checks a received header: the protocol name, then the highest version both speak. */
export function checkHeader(header: Uint8Array, ours: VersionRange = OUR_VERSIONS): HeaderCheck {
  if (header.length !== HEADER_BYTES || !equalBytes(header.subarray(0, 12), PROTOCOL_MAGIC)) {
    return { ok: false, reason: "bad-header", message: "not the weave-agent control protocol" };
  }
  const theirs = { min: header[12], max: header[13] };
  const version = Math.min(theirs.max, ours.max);
  if (theirs.min > theirs.max || version < Math.max(theirs.min, ours.min)) {
    return {
      ok: false,
      reason: "bad-version",
      theirs,
      message: `incompatible protocol versions: peer speaks ${theirs.min}..${theirs.max}, ` +
        `this agent ${ours.min}..${ours.max}`,
    };
  }
  return { ok: true, version };
}

/** A handshake record: u8 kind ‖ u16 length ‖ body. */
export function encodeRecord(kind: number, body: Uint8Array): Uint8Array {
  if (body.length > MAX_RECORD_BYTES) throw new RangeError("handshake record too long");
  const r = new Uint8Array(3 + body.length);
  r[0] = kind;
  new DataView(r.buffer).setUint16(1, body.length);
  r.set(body, 3);
  return r;
}

/** One handshake record as read from the wire. */
export interface RecordIn {
  kind: number;
  body: Uint8Array;
}

/** Reads one record; unknown kinds and oversize lengths are refused before reading the body. */
export async function readRecord(reader: FrameReader): Promise<RecordIn> {
  const head = await reader.bytes(3);
  const len = (head[1] << 8) | head[2];
  if (len > MAX_RECORD_BYTES) throw new WireError("oversize", `handshake record of ${len} bytes`);
  const kind = head[0];
  if (kind < RecordKind.HELLO || kind > RecordKind.SHARES) {
    throw new WireError("garbage", `unknown handshake record kind ${kind}`);
  }
  return { kind, body: await reader.bytes(len) };
}

/** What a HELLO carries. */
export interface Hello {
  nonce: Uint8Array;
  /** Fresh X25519 public key (base point) for node-key proofs. */
  ephemeral: Uint8Array;
  /** Receiver index the sender chose for this session. */
  index: number;
  /** The sender's node key, if it has one. */
  nodeKey: Uint8Array | null;
  name: string;
}

/** A HELLO record. */
export function encodeHello(h: Hello): Uint8Array {
  const name = encoder.encode(h.name);
  if (name.length < 1 || name.length > MAX_NAME_BYTES) throw new RangeError("bad peer name length");
  const keyLen = h.nodeKey ? KEY_BYTES : 0;
  const body = new Uint8Array(HELLO_FIXED + keyLen + name.length);
  body[0] = h.nodeKey ? FLAG_NODE_KEY : 0;
  body.set(h.nonce, 1);
  body.set(h.ephemeral, 33);
  new DataView(body.buffer).setUint32(65, h.index >>> 0);
  if (h.nodeKey) body.set(h.nodeKey, HELLO_FIXED);
  body.set(name, HELLO_FIXED + keyLen);
  return encodeRecord(RecordKind.HELLO, body);
}

/** Parses a HELLO body; throws WireError "garbage" on anything malformed. */
export function parseHello(body: Uint8Array): Hello {
  if (body.length < HELLO_FIXED) throw new WireError("garbage", `HELLO of ${body.length} bytes`);
  const flags = body[0];
  if ((flags & ~FLAG_NODE_KEY) !== 0) throw new WireError("garbage", `HELLO flags ${flags}`);
  const keyLen = flags & FLAG_NODE_KEY ? KEY_BYTES : 0;
  const nameLen = body.length - HELLO_FIXED - keyLen;
  if (nameLen < 1 || nameLen > MAX_NAME_BYTES) {
    throw new WireError("garbage", `HELLO of ${body.length} bytes`);
  }
  let name: string;
  try {
    name = strictUtf8.decode(body.subarray(HELLO_FIXED + keyLen));
  } catch {
    throw new WireError("garbage", "peer name in HELLO is not UTF-8");
  }
  // Names reach logs and status output: only the printable subset config names use.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new WireError("garbage", "unprintable peer name");
  return {
    nonce: body.slice(1, 33),
    ephemeral: body.slice(33, 65),
    index: new DataView(body.buffer, body.byteOffset).getUint32(65),
    nodeKey: keyLen ? body.slice(HELLO_FIXED, HELLO_FIXED + KEY_BYTES) : null,
    name,
  };
}

/** A SHARES record: one CPace share per password slot. */
export function encodeShares(shares: Uint8Array[]): Uint8Array {
  return encodeRecord(RecordKind.SHARES, concat(...shares));
}

/** Parses a SHARES body: 1 or 2 shares of 32 bytes. */
export function parseShares(body: Uint8Array): Uint8Array[] {
  const n = body.length / KEY_BYTES;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SLOTS) {
    throw new WireError("garbage", `SHARES of ${body.length} bytes`);
  }
  return Array.from({ length: n }, (_, i) => body.slice(i * KEY_BYTES, (i + 1) * KEY_BYTES));
}

/** The dialer's CONFIRM: a tag per slot pair, then its key proof if it announced a node key. */
export function encodeDialerConfirm(tags: Uint8Array[], keyProof: Uint8Array | null): Uint8Array {
  return encodeRecord(
    RecordKind.CONFIRM,
    concat(new Uint8Array([tags.length]), ...tags, keyProof ?? new Uint8Array(0)),
  );
}

/** Parses the dialer's CONFIRM, expecting `pairs` tags and a key proof iff `withKeyProof`. */
export function parseDialerConfirm(
  body: Uint8Array,
  pairs: number,
  withKeyProof: boolean,
): { tags: Uint8Array[]; keyProof: Uint8Array | null } {
  const want = 1 + pairs * KEY_BYTES + (withKeyProof ? KEY_BYTES : 0);
  if (body.length !== want || body[0] !== pairs) {
    throw new WireError("garbage", `CONFIRM of ${body.length} bytes for ${pairs} slot pairs`);
  }
  const tags = Array.from(
    { length: pairs },
    (_, k) => body.slice(1 + k * KEY_BYTES, 1 + (k + 1) * KEY_BYTES),
  );
  return { tags, keyProof: withKeyProof ? body.slice(want - KEY_BYTES) : null };
}

/** The listener's CONFIRM: the chosen slot pair, its tag, its key proof if it has a node key. */
export function encodeListenerConfirm(
  i: number,
  j: number,
  tag: Uint8Array,
  keyProof: Uint8Array | null,
): Uint8Array {
  return encodeRecord(
    RecordKind.CONFIRM,
    concat(new Uint8Array([(i << 4) | j]), tag, keyProof ?? new Uint8Array(0)),
  );
}

/** Parses the listener's CONFIRM. */
export function parseListenerConfirm(
  body: Uint8Array,
  withKeyProof: boolean,
): { i: number; j: number; tag: Uint8Array; keyProof: Uint8Array | null } {
  const want = 1 + KEY_BYTES + (withKeyProof ? KEY_BYTES : 0);
  if (body.length !== want) throw new WireError("garbage", `CONFIRM of ${body.length} bytes`);
  return {
    i: body[0] >> 4,
    j: body[0] & 0x0f,
    tag: body.slice(1, 1 + KEY_BYTES),
    keyProof: withKeyProof ? body.slice(1 + KEY_BYTES) : null,
  };
}

/** AUTH_FAILED, with the listener's key proof when it has a node key. */
export function encodeAuthFailed(keyProof: Uint8Array | null): Uint8Array {
  return encodeRecord(RecordKind.AUTH_FAILED, keyProof ?? new Uint8Array(0));
}

/** A REFUSE record with a short printable reason. */
export function encodeRefuse(reason: string): Uint8Array {
  return encodeRecord(RecordKind.REFUSE, encoder.encode(printable(reason).slice(0, 200)));
}

/** The reason a REFUSE carries, made loggable. */
export function refuseReason(body: Uint8Array): string {
  return printable(new TextDecoder().decode(body));
}

/** Keeps a peer-supplied reason loggable: printable ASCII only, bounded. */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

/** Concatenation of byte strings (one implementation: cpace.ts's). */
export const concat: (...parts: Uint8Array[]) => Uint8Array = concatBytes;
