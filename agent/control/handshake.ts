/**
 * The per-connection handshake of the control plane. Every TCP connection runs it afresh, with
 * new X25519 keys and nonces, so a recorded handshake replayed later fails key confirmation.
 *
 * Wire format:
 *
 *   header  "weave-agent\0" ‖ u8 min version ‖ u8 max version                      (14 bytes)
 *   record  u8 kind ‖ u16 length ‖ body  (length ≤ 512)
 *     HELLO        X25519 public key (32) ‖ nonce (32) ‖ peer name (UTF-8, 1–63 bytes)
 *     CONFIRM      HMAC-SHA256 over the transcript hash (32), keyed per direction
 *     REFUSE       a short plaintext reason (UTF-8), then the sender closes
 *     AUTH_FAILED  empty: "your confirmation did not verify", then the sender closes
 *
 *   dialer   → header, HELLO
 *   listener → header, HELLO, CONFIRM   (or header, REFUSE)
 *   dialer   → CONFIRM                  (or AUTH_FAILED)
 *   listener → (AUTH_FAILED on a bad confirmation)
 *
 * The transcript hash is SHA-256(dialer header ‖ listener header ‖ dialer HELLO record ‖
 * listener HELLO record): every field either side sent, in an order fixed by role. After the
 * confirmations, both ends hold a SecureChannel keyed per direction from the session key, and
 * `agreeOnSession` settles whether this connection becomes the pair's session.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import type { FrameReader } from "./frame_reader.ts";
import { SecureChannel } from "./secure_channel.ts";
import {
  confirmationMac,
  deriveControlKeys,
  deriveSharedSecret,
  type Direction,
  equalBytes,
  generateEphemeral,
  sessionKeyFromShared,
} from "./session_keys.ts";
import type { ByteStream } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";

/** The protocol name every connection starts with. */
export const PROTOCOL_MAGIC: Uint8Array = new TextEncoder().encode("weave-agent\0");
/** Oldest protocol version this agent speaks. */
export const PROTOCOL_MIN_VERSION = 1;
/** Newest protocol version this agent speaks. */
export const PROTOCOL_MAX_VERSION = 1;
/** Length of the fixed header. */
export const HEADER_BYTES: number = PROTOCOL_MAGIC.length + 2;
/** Largest handshake record body. */
export const MAX_RECORD_BYTES = 512;
/** Longest peer name in a HELLO. */
export const MAX_NAME_BYTES = 63;

/** Handshake record kinds. */
export const RecordKind = { HELLO: 1, CONFIRM: 2, REFUSE: 3, AUTH_FAILED: 4 } as const;

const encoder = new TextEncoder();

/** A protocol version range. */
export interface VersionRange {
  min: number;
  max: number;
}

const OURS: VersionRange = { min: PROTOCOL_MIN_VERSION, max: PROTOCOL_MAX_VERSION };

/** The 14-byte header announcing a version range. */
export function encodeHeader(versions: VersionRange = OURS): Uint8Array {
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
export function checkHeader(header: Uint8Array, ours: VersionRange = OURS): HeaderCheck {
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

/** What a HELLO carries. */
export interface Hello {
  publicKey: Uint8Array;
  nonce: Uint8Array;
  name: string;
}

/** A HELLO record. */
export function encodeHello(h: Hello): Uint8Array {
  const name = encoder.encode(h.name);
  if (name.length < 1 || name.length > MAX_NAME_BYTES) throw new RangeError("bad peer name length");
  const body = new Uint8Array(64 + name.length);
  body.set(h.publicKey);
  body.set(h.nonce, 32);
  body.set(name, 64);
  return encodeRecord(RecordKind.HELLO, body);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses a HELLO body; throws WireError "garbage" on anything malformed. */
export function parseHello(body: Uint8Array): Hello {
  const nameLen = body.length - 64;
  if (nameLen < 1 || nameLen > MAX_NAME_BYTES) {
    throw new WireError("garbage", `HELLO of ${body.length} bytes`);
  }
  let name: string;
  try {
    name = strictUtf8.decode(body.subarray(64));
  } catch {
    throw new WireError("garbage", "peer name in HELLO is not UTF-8");
  }
  // Names reach logs and status output: only the printable subset config names use.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new WireError("garbage", "unprintable peer name");
  return { publicKey: body.slice(0, 32), nonce: body.slice(32, 64), name };
}

/** A REFUSE record with a short printable reason. */
export function encodeRefuse(reason: string): Uint8Array {
  return encodeRecord(RecordKind.REFUSE, encoder.encode(printable(reason).slice(0, 200)));
}

/** Keeps a peer-supplied reason loggable: printable ASCII only, bounded. */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

/** SHA-256 over both headers and both HELLO records, in role order. */
export function transcriptHash(
  dialerHeader: Uint8Array,
  listenerHeader: Uint8Array,
  dialerHello: Uint8Array,
  listenerHello: Uint8Array,
): Uint8Array {
  const h = sha256.create();
  for (const part of [dialerHeader, listenerHeader, dialerHello, listenerHello]) h.update(part);
  return h.digest();
}

/** One handshake record as read from the wire. */
interface RecordIn {
  kind: number;
  body: Uint8Array;
}

async function readRecord(reader: FrameReader): Promise<RecordIn> {
  const head = await reader.bytes(3);
  const len = (head[1] << 8) | head[2];
  if (len > MAX_RECORD_BYTES) throw new WireError("oversize", `handshake record of ${len} bytes`);
  const kind = head[0];
  if (kind < RecordKind.HELLO || kind > RecordKind.AUTH_FAILED) {
    throw new WireError("garbage", `unknown handshake record kind ${kind}`);
  }
  return { kind, body: await reader.bytes(len) };
}

/** How one end runs the handshake. */
export interface HandshakeOptions {
  stream: ByteStream;
  reader: FrameReader;
  role: "dialer" | "listener";
  localName: string;
  password: Uint8Array | null;
  /** Remote IP address, for messages. */
  remoteAddress: string;
  /** Dialer: the name of the peer dialled; a different name answering is refused. */
  expectedPeer?: string;
  /**
   * Listener: may `name` connect from `remoteAddress`? Null admits it; a string refuses it with
   * that (plaintext, logged) reason.
   */
  admit?: (name: string) => string | null;
  /** Called once the peer's name is known and admitted (before the key exchange). */
  onIdentified?: (name: string) => void;
  /** Our version range; tests pretend to be other versions. */
  versions?: VersionRange;
}

/** A confirmed handshake: both ends derived the same session key from this transcript. */
export interface HandshakeResult {
  peerName: string;
  version: number;
  sessionKey: Uint8Array;
  dialerNonce: Uint8Array;
  listenerNonce: Uint8Array;
  localIsDialer: boolean;
  /** False without a password: then the key exchange is unauthenticated. */
  authenticated: boolean;
  /** Sealing and opening of control messages, keyed per direction. */
  channel: SecureChannel;
}

/** Best effort: the peer may already be gone. */
async function tryWrite(stream: ByteStream, data: Uint8Array): Promise<void> {
  try {
    await stream.write(data);
  } catch {
    // The connection ends right after anyway.
  }
}

/**
 * Runs the handshake on a fresh connection. Throws WireError on every failure; a wrong password
 * on either side yields `password mismatch with peer <name> at <address>` on both sides.
 * The caller owns the stream and closes it on failure.
 */
export async function runHandshake(o: HandshakeOptions): Promise<HandshakeResult> {
  const isDialer = o.role === "dialer";
  const ourHeader = encodeHeader(o.versions ?? OURS);
  const ourNonce = crypto.getRandomValues(new Uint8Array(32));
  // A listener makes its key pair only for an admitted peer: garbage costs no X25519.
  let ourHello: Uint8Array = new Uint8Array(0);
  const makeKeys = () => {
    const eph = generateEphemeral();
    ourHello = encodeHello({ publicKey: eph.publicKey, nonce: ourNonce, name: o.localName });
    return eph;
  };
  const who = (name: string) => `peer ${name} at ${o.remoteAddress}`;

  // The dialer speaks first and in full; the listener answers only once the dialer is admitted.
  const dialerKeys = isDialer ? makeKeys() : null;
  if (isDialer) await o.stream.write(concat(ourHeader, ourHello));

  const theirHeader = await o.reader.bytes(HEADER_BYTES);
  const check = checkHeader(theirHeader, o.versions ?? OURS);
  if (!check.ok) {
    if (!isDialer) await tryWrite(o.stream, concat(ourHeader, encodeRefuse(check.message)));
    const peer = o.expectedPeer ? who(o.expectedPeer) : `${o.remoteAddress}`;
    throw new WireError(check.reason, `${peer}: ${check.message}`);
  }

  const first = await readRecord(o.reader);
  if (first.kind === RecordKind.REFUSE) {
    throw new WireError(
      "refused",
      `${who(o.expectedPeer ?? "?")} refused the connection: ${
        printable(new TextDecoder().decode(first.body))
      }`,
    );
  }
  if (first.kind !== RecordKind.HELLO) {
    throw new WireError("garbage", `expected HELLO, got record kind ${first.kind}`);
  }
  const hello = parseHello(first.body);
  const theirHello = encodeRecord(RecordKind.HELLO, first.body);
  if (hello.name === o.localName) {
    if (!isDialer) await tryWrite(o.stream, concat(ourHeader, encodeRefuse("that is my name")));
    throw new WireError("unknown-peer", `${o.remoteAddress} claims this agent's own name`);
  }
  if (isDialer && hello.name !== o.expectedPeer) {
    throw new WireError(
      "unknown-peer",
      `dialled ${who(o.expectedPeer ?? "?")} but it calls itself ${hello.name}`,
    );
  }
  if (!isDialer) {
    const refusal = o.admit?.(hello.name) ?? null;
    if (refusal !== null) {
      await tryWrite(o.stream, concat(ourHeader, encodeRefuse(refusal)));
      throw new WireError("unknown-peer", refusal);
    }
  }
  o.onIdentified?.(hello.name);
  const keys = dialerKeys ?? makeKeys();

  let shared: Uint8Array;
  try {
    shared = deriveSharedSecret(keys.privateKey, hello.publicKey);
  } catch {
    throw new WireError("garbage", `${who(hello.name)} sent a low-order X25519 key`);
  }
  const sessionKey = sessionKeyFromShared(shared, o.password);
  shared.fill(0);
  keys.privateKey.fill(0);
  const dialerNonce = isDialer ? ourNonce : hello.nonce;
  const listenerNonce = isDialer ? hello.nonce : ourNonce;
  const transcript = isDialer
    ? transcriptHash(ourHeader, theirHeader, ourHello, theirHello)
    : transcriptHash(theirHeader, ourHeader, theirHello, ourHello);
  const ourDir: Direction = isDialer ? "dialer->listener" : "listener->dialer";
  const theirDir: Direction = isDialer ? "listener->dialer" : "dialer->listener";
  const ourConfirm = encodeRecord(
    RecordKind.CONFIRM,
    confirmationMac(sessionKey, dialerNonce, listenerNonce, ourDir, transcript),
  );
  const mismatch = `password mismatch with ${who(hello.name)}`;

  if (!isDialer) await o.stream.write(concat(ourHeader, ourHello, ourConfirm));
  const conf = await readRecord(o.reader);
  if (conf.kind === RecordKind.AUTH_FAILED) throw new WireError("auth", mismatch);
  if (conf.kind === RecordKind.REFUSE) {
    throw new WireError(
      "refused",
      `${who(hello.name)} refused the connection: ${
        printable(new TextDecoder().decode(conf.body))
      }`,
    );
  }
  if (conf.kind !== RecordKind.CONFIRM || conf.body.length !== 32) {
    throw new WireError("garbage", `expected CONFIRM, got record kind ${conf.kind}`);
  }
  const expected = confirmationMac(sessionKey, dialerNonce, listenerNonce, theirDir, transcript);
  if (!equalBytes(conf.body, expected)) {
    await tryWrite(o.stream, encodeRecord(RecordKind.AUTH_FAILED, new Uint8Array(0)));
    throw new WireError("auth", mismatch);
  }
  if (isDialer) await o.stream.write(ourConfirm);

  const control = deriveControlKeys(sessionKey, dialerNonce, listenerNonce);
  return {
    peerName: hello.name,
    version: check.version,
    sessionKey,
    dialerNonce,
    listenerNonce,
    localIsDialer: isDialer,
    authenticated: o.password !== null,
    channel: isDialer
      ? new SecureChannel(control.dialerToListener, control.listenerToDialer, true)
      : new SecureChannel(control.listenerToDialer, control.dialerToListener, false),
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** What the deciding side says about a confirmed connection. */
export type Agreement = "keep" | "duplicate";

/** How the two ends agree whether a confirmed connection becomes the pair's session. */
export interface AgreementOptions {
  stream: ByteStream;
  reader: FrameReader;
  /** The side with the lexicographically smaller name decides, so both ends always agree. */
  decider: boolean;
  /** Decider only: called once the peer proved it verified our confirmation. */
  decide?: () => Agreement;
  remoteAddress: string;
}

/**
 * The step after the confirmations, as the first sealed messages: the non-deciding side sends
 * `{type:"ready"}` (it verified our confirmation: a dialer that finished first may otherwise
 * treat a session as up that the listener then rejects); the decider answers `{type:"keep"}` or
 * `{type:"duplicate"}`. Only "keep" makes a session, on both sides, so a simultaneous dial ends
 * with exactly one session and no flapping. Throws WireError on anything else.
 */
export async function agreeOnSession(hs: HandshakeResult, o: AgreementOptions): Promise<Agreement> {
  if (!o.decider) await o.stream.write(hs.channel.seal({ type: "ready" }));
  if (hs.localIsDialer) {
    // The listener verifies our confirmation last; its verdict may be a plaintext AUTH_FAILED.
    const head = await o.reader.peek(3);
    if (head[0] === RecordKind.AUTH_FAILED && head[1] === 0 && head[2] === 0) {
      throw new WireError(
        "auth",
        `password mismatch with peer ${hs.peerName} at ${o.remoteAddress}`,
      );
    }
  }
  const body = await o.reader.frame(undefined, 16);
  if (body === null) {
    throw new WireError("truncated", `peer ${hs.peerName} closed before the session started`);
  }
  const msg = hs.channel.open(body);
  if (o.decider) {
    if (msg.type !== "ready") {
      throw new WireError("garbage", `expected ready, got ${printable(msg.type)}`);
    }
    const verdict = o.decide?.() ?? "keep";
    await o.stream.write(hs.channel.seal({ type: verdict }));
    return verdict;
  }
  if (msg.type === "keep" || msg.type === "duplicate") return msg.type;
  throw new WireError("garbage", `expected keep or duplicate, got ${printable(msg.type)}`);
}
