/**
 * The per-connection handshake of the control plane, protocol version 2, over TCP: the header
 * exchange, then the four messages of `handshake_core.ts` (CPace bound to the password, node-key
 * proofs, key confirmation with the dialer proving first), then `agreeOnSession`. Every
 * connection runs it afresh with new shares, nonces and ephemeral keys, so a recorded
 * handshake replayed later fails key confirmation. Wire format: `handshake_wire.ts`; key
 * schedule: `key_schedule.ts`; why the order leaves no offline oracle: `handshake_core.ts`.
 *
 *   dialer   → header, HELLO_D
 *   listener → header, HELLO_L, SHARES_L          (or header, REFUSE)
 *   dialer   → SHARES_D, CONFIRM_D                (or REFUSE)
 *   listener → CONFIRM_L                          (or AUTH_FAILED, or REFUSE)
 *   then sealed: the non-deciding side's "ready", the decider's "keep" / "duplicate"
 *
 * A version-1 agent is refused by the header check with "incompatible protocol versions: peer
 * speaks 1..1, this agent 3..3" on both ends (a version-2 one likewise, with 2..2).
 *
 * Failures throw WireError; authentication failures throw HandshakeError, which says whether
 * the peer had proved its node key, so the caller can tell a genuine password mismatch of the
 * real peer from a failed handshake of whoever connected (`classifyAuthFailure`).
 *
 * @module
 */

import type { FrameReader } from "./frame_reader.ts";
import {
  type CoreOptions,
  type CoreResult,
  DialerHandshake,
  HandshakeError,
  ListenerHandshake,
  type NodeKeyPair,
  type PasswordSlot,
} from "./handshake_core.ts";
import {
  checkHeader,
  concat,
  encodeHeader,
  encodeRecord,
  encodeRefuse,
  HEADER_BYTES,
  OUR_VERSIONS,
  printable,
  readRecord,
  type RecordIn,
  RecordKind,
  refuseReason,
  type VersionRange,
} from "./handshake_wire.ts";
import type { SessionKeySet } from "./key_schedule.ts";
import { SecureChannel } from "./secure_channel.ts";
import type { ByteStream } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";

export {
  checkHeader,
  encodeHeader,
  encodeHello,
  encodeRecord,
  HEADER_BYTES,
  type HeaderCheck,
  type Hello,
  MAX_NAME_BYTES,
  MAX_RECORD_BYTES,
  parseHello,
  printable,
  PROTOCOL_MAGIC,
  PROTOCOL_MAX_VERSION,
  PROTOCOL_MIN_VERSION,
  RecordKind,
  type VersionRange,
} from "./handshake_wire.ts";
export {
  HandshakeError,
  type NodeKeyPair,
  type PasswordSet,
  type PasswordSlot,
} from "./handshake_core.ts";

/** What both roles take. */
interface CommonOptions {
  stream: ByteStream;
  reader: FrameReader;
  localName: string;
  /** The current password; null: none configured (sessions are then unauthenticated). */
  password: Uint8Array | null;
  /** The previous password, during a rollout (#14); the current one is always preferred. */
  previousPassword?: Uint8Array | null;
  /** This box's node key (#15); absent: it proves none. */
  nodeKey?: NodeKeyPair | null;
  /** The node key weave.yaml gives a peer name, or null. */
  peerKey?: (name: string) => Uint8Array | null;
  /** Receiver index this box picks for the session (default random). */
  localIndex?: number;
  /** Remote IP address, for messages. */
  remoteAddress: string;
  /** Our version range; tests pretend to be other versions. */
  versions?: VersionRange;
}

/** The dialing side's options. */
export interface DialOptions extends CommonOptions {
  /** The name of the peer dialled; a different name answering is refused. */
  expectedPeer: string;
}

/** The accepting side's options. */
export interface AcceptOptions extends CommonOptions {
  /**
   * May `name` connect from `remoteAddress`? Null admits it; a string refuses it with that
   * (plaintext, logged) reason. Runs before any key exchange.
   */
  admit?: (name: string) => string | null;
  /** Called once the peer's name is known and admitted (before the key exchange). */
  onIdentified?: (name: string) => void;
  /**
   * Last gate before the first X25519 operation (the handshake rate limit): null lets the key
   * exchange start; a string refuses it (WireError "too-many-pending").
   */
  admitKeyExchange?: () => string | null;
}

/** How one end runs the handshake: `runHandshake` dispatches on `role`. */
export interface HandshakeOptions extends CommonOptions {
  role: "dialer" | "listener";
  expectedPeer?: string;
  admit?: (name: string) => string | null;
  onIdentified?: (name: string) => void;
  admitKeyExchange?: () => string | null;
}

/** A confirmed handshake: both ends derived the same keys from this transcript. */
export interface HandshakeResult {
  peerName: string;
  version: number;
  /** SHA-256(password-bound shared secret ‖ password). */
  sessionKey: Uint8Array;
  dialerNonce: Uint8Array;
  listenerNonce: Uint8Array;
  localIsDialer: boolean;
  /** False without a password: then the key exchange is unauthenticated. */
  authenticated: boolean;
  /** Sealing and opening of control messages, keyed per direction. */
  channel: SecureChannel;
  /** The transcript hash (salt of the per-purpose keys; the rekey chain starts from it). */
  transcriptHash: Uint8Array;
  /** Per-purpose keys of both directions (control, sleeve, ESP), bound to both indices. */
  keys: SessionKeySet;
  /** Which of this box's passwords the session uses. */
  password: PasswordSlot;
  /** The peer proved the node key weave.yaml gives it. */
  peerProvedKey: boolean;
}

/** Best effort: the peer may already be gone. */
async function tryWrite(stream: ByteStream, data: Uint8Array): Promise<void> {
  try {
    await stream.write(data);
  } catch {
    // The connection ends right after anyway.
  }
}

function coreOptions(o: CommonOptions): CoreOptions {
  return {
    localName: o.localName,
    passwords: { current: o.password, previous: o.previousPassword ?? null },
    nodeKey: o.nodeKey ?? null,
    peerKey: o.peerKey,
    localIndex: o.localIndex,
  };
}

/** The address goes into the message of every authentication failure. */
function at(e: unknown, address: string): unknown {
  if (!(e instanceof HandshakeError)) return e;
  return new HandshakeError(
    e.failure,
    e.peerName,
    e.peerProvedKey,
    e.peerKeyConfigured,
    `${e.message} at ${address}`,
  );
}

function refused(who: string, r: RecordIn): WireError {
  return new WireError("refused", `${who} refused the connection: ${refuseReason(r.body)}`);
}

async function expect(reader: FrameReader, kind: number, who: string): Promise<Uint8Array> {
  const r = await readRecord(reader);
  if (r.kind === RecordKind.REFUSE) throw refused(who, r);
  if (r.kind !== kind) {
    throw new WireError("garbage", `expected record kind ${kind}, got ${r.kind}`);
  }
  return r.body;
}

function resultOf(core: CoreResult, version: number): HandshakeResult {
  const k = core.keys;
  return {
    ...core,
    version,
    channel: core.localIsDialer
      ? new SecureChannel(k.dialerToListener.control, k.listenerToDialer.control, true)
      : new SecureChannel(k.listenerToDialer.control, k.dialerToListener.control, false),
  };
}

/** The dialing side of the handshake. Throws WireError / HandshakeError; the caller closes. */
export async function dialHandshake(o: DialOptions): Promise<HandshakeResult> {
  const versions = o.versions ?? OUR_VERSIONS;
  const who = `peer ${o.expectedPeer} at ${o.remoteAddress}`;
  const core = new DialerHandshake({ ...coreOptions(o), expectedPeer: o.expectedPeer });
  const ourHeader = encodeHeader(versions);
  await o.stream.write(concat(ourHeader, core.hello));

  const theirHeader = await o.reader.bytes(HEADER_BYTES);
  const check = checkHeader(theirHeader, versions);
  if (!check.ok) throw new WireError(check.reason, `${who}: ${check.message}`);
  const hello = await expect(o.reader, RecordKind.HELLO, who);
  const shares = await expect(o.reader, RecordKind.SHARES, who);
  let third: Uint8Array;
  try {
    third = core.reply(hello, shares, concat(ourHeader, theirHeader));
  } catch (e) {
    // Tell the listener why (its log then says more than "connection closed").
    if (e instanceof WireError) await tryWrite(o.stream, encodeRefuse(e.message));
    throw at(e, o.remoteAddress);
  }
  await o.stream.write(third);

  const fourth = await readRecord(o.reader);
  if (fourth.kind === RecordKind.REFUSE) throw refused(who, fourth);
  if (fourth.kind === RecordKind.AUTH_FAILED) {
    throw at(core.authFailed(fourth.body), o.remoteAddress);
  }
  if (fourth.kind !== RecordKind.CONFIRM) {
    throw new WireError("garbage", `expected CONFIRM, got record kind ${fourth.kind}`);
  }
  try {
    return resultOf(core.confirm(fourth.body), check.version);
  } catch (e) {
    // The listener accepted our proof; it learns from this that its own did not verify.
    if (e instanceof HandshakeError) {
      await tryWrite(o.stream, encodeRecord(RecordKind.AUTH_FAILED, new Uint8Array(0)));
    }
    throw at(e, o.remoteAddress);
  }
}

/** The accepting side of the handshake. Throws WireError / HandshakeError; the caller closes. */
export async function acceptHandshake(o: AcceptOptions): Promise<HandshakeResult> {
  const versions = o.versions ?? OUR_VERSIONS;
  const ourHeader = encodeHeader(versions);
  const theirHeader = await o.reader.bytes(HEADER_BYTES);
  const check = checkHeader(theirHeader, versions);
  if (!check.ok) {
    await tryWrite(o.stream, concat(ourHeader, encodeRefuse(check.message)));
    throw new WireError(check.reason, `${o.remoteAddress}: ${check.message}`);
  }
  const core = new ListenerHandshake(coreOptions(o));
  const hello = core.hello(await expect(o.reader, RecordKind.HELLO, o.remoteAddress));
  const refuse = async (why: string) => {
    await tryWrite(o.stream, concat(ourHeader, encodeRefuse(why)));
  };
  if (hello.name === o.localName) {
    await refuse("that is my name");
    throw new WireError("unknown-peer", `${o.remoteAddress} claims this agent's own name`);
  }
  const refusal = o.admit?.(hello.name) ?? null;
  if (refusal !== null) {
    await refuse(refusal);
    throw new WireError("unknown-peer", refusal);
  }
  const keyRefusal = core.keyRefusal();
  if (keyRefusal) {
    await refuse(keyRefusal.message);
    throw at(keyRefusal, o.remoteAddress);
  }
  const busy = o.admitKeyExchange?.() ?? null;
  if (busy !== null) {
    await refuse(busy);
    throw new WireError("too-many-pending", `${o.remoteAddress} (${hello.name}): ${busy}`);
  }
  o.onIdentified?.(hello.name);
  await o.stream.write(concat(ourHeader, core.reply(concat(theirHeader, ourHeader))));

  const who = `peer ${hello.name} at ${o.remoteAddress}`;
  const shares = await expect(o.reader, RecordKind.SHARES, who);
  const confirm = await expect(o.reader, RecordKind.CONFIRM, who);
  const outcome = core.confirm(shares, confirm);
  await (outcome.ok ? o.stream.write(outcome.reply) : tryWrite(o.stream, outcome.reply));
  if (!outcome.ok) throw at(outcome.error, o.remoteAddress);
  return resultOf(outcome.result, check.version);
}

/** Runs the role's side of the handshake (`dialHandshake` or `acceptHandshake`). */
export function runHandshake(o: HandshakeOptions): Promise<HandshakeResult> {
  if (o.role === "dialer") {
    if (o.expectedPeer === undefined) throw new TypeError("a dialer needs expectedPeer");
    return dialHandshake({ ...o, expectedPeer: o.expectedPeer });
  }
  return acceptHandshake(o);
}

/** How the caller reports an authentication failure. */
export interface AuthFailureView {
  /**
   * True: the real peer has a different password (it proved its node key, or we dialled its
   * configured address and it has no node key): log the mismatch and mark the peer. False: an
   * unproven connection failed; nothing about the peer changes.
   */
  genuine: boolean;
  /** `password mismatch with peer <name> at <address>` or `failed handshake from <address> …`. */
  message: string;
}

/**
 * Tells a genuine password mismatch of the real peer from a failed handshake of whoever
 * connected. Accepted connections can come from anyone who can reach the port from a peer's
 * address; only a proved node key says who it was. A connection we dialled reached the address
 * weave.yaml gives, so without a node key for that peer its failure counts as the peer's.
 */
export function classifyAuthFailure(
  e: HandshakeError,
  o: { dialled: boolean; remoteAddress: string },
): AuthFailureView {
  const genuine = e.failure === "password" &&
    (e.peerProvedKey || (o.dialled && !e.peerKeyConfigured));
  return genuine
    ? { genuine, message: `password mismatch with peer ${e.peerName} at ${o.remoteAddress}` }
    : {
      genuine,
      message: `failed handshake from ${o.remoteAddress} (claiming ${e.peerName}): ${
        e.message.replace(/ at \S+$/, "")
      }`,
    };
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
 * `{type:"ready"}` (it verified our confirmation: the listener, whose confirmation the dialer
 * verifies last, may otherwise treat a session as up that the dialer then rejects); the decider
 * answers `{type:"keep"}` or `{type:"duplicate"}`. Only "keep" makes a session, on both sides,
 * so a simultaneous dial ends with exactly one session and no flapping. Throws WireError on
 * anything else.
 */
export async function agreeOnSession(hs: HandshakeResult, o: AgreementOptions): Promise<Agreement> {
  if (!o.decider) await o.stream.write(hs.channel.seal({ type: "ready" }));
  if (!hs.localIsDialer) {
    // The dialer verifies our confirmation last; its verdict may be a plaintext AUTH_FAILED
    // (a sealed frame starts with a u32 length ≤ 64 KiB, so never with this kind byte).
    const head = await o.reader.peek(3);
    if (head[0] === RecordKind.AUTH_FAILED && head[1] === 0 && head[2] === 0) {
      throw new HandshakeError(
        "password",
        hs.peerName,
        hs.peerProvedKey,
        hs.peerProvedKey,
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
