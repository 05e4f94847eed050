/**
 * The sealed control channel of one session: JSON messages, each sealed with
 * ChaCha20-Poly1305 under a per-direction key and framed as u32 length ‖ ciphertext ‖ tag.
 *
 * The 96-bit nonce is u32 polarity ‖ u64 sequence number (big-endian): the dialer seals with
 * polarity 0, the listener with 1, so the two directions never share a nonce even if their keys
 * were equal; the receiver expects exactly the next sequence number, so a replayed, reordered,
 * dropped or forged frame fails authentication and ends the connection.
 *
 * @module
 */

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { type Aead, bestAeadBackend, createAead } from "../../datapath/sleeve/mod.ts";
import { MAX_FRAME_BYTES } from "./frame_reader.ts";
import { WireError } from "./wire_error.ts";

/** A control message: a JSON object with a string `type`. */
export type ControlMessage = { type: string; [k: string]: unknown };

/** Poly1305 tag length: the smallest possible sealed frame body. */
export const TAG_BYTES = 16;

/** Polarity of a connection end: 0 for the side that dialled, 1 for the side that accepted. */
export type Polarity = 0 | 1;

/** The 12-byte AEAD nonce: u32 polarity ‖ u64 sequence, big-endian. */
export function controlNonce(polarity: Polarity, seq: bigint): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(0, polarity);
  v.setBigUint64(4, seq);
  return n;
}

/**
 * The sleeve's best system backend for ChaCha20-Poly1305 (libsodium for small messages, which
 * most control messages are, and libcrypto; a context per key), else @noble's: the same bytes.
 * A fleet's control traffic is thousands of small sealed messages a second while it converges;
 * in JavaScript their AEAD was a tenth of an agent's CPU, and each message after a quiet spell
 * runs cold (a 120-byte seal after 200 ms idle: 24 µs on libsodium, 38 on libcrypto's five
 * calls). Chosen with this module, so that no test or deadline sees the library arrive.
 */
const BACKEND = bestAeadBackend("chacha20-poly1305");
const USE_LIBRARY = BACKEND !== "noble";
/** The library context of each live key; freed when the key is forgotten or collected. */
const contexts = new WeakMap<Uint8Array, Aead>();
const freeContext = new FinalizationRegistry<Aead>((a) => a.free());
const NO_AAD = new Uint8Array(0);

function contextOf(key: Uint8Array): Aead | null {
  if (!USE_LIBRARY) return null;
  let a = contexts.get(key);
  if (!a) {
    a = createAead("chacha20-poly1305", key, BACKEND);
    contexts.set(key, a);
    freeContext.register(key, a, key);
  }
  return a;
}

/** Frees the library context of a key that is being wiped (its copy of the key goes too). */
export function forgetControlKey(key: Uint8Array): void {
  const a = contexts.get(key);
  if (!a) return;
  contexts.delete(key);
  freeContext.unregister(key);
  a.free();
}

/** Seals one plaintext; the result is ciphertext ‖ 16-byte tag (no AAD). */
export function sealControl(
  key: Uint8Array,
  polarity: Polarity,
  seq: bigint,
  plaintext: Uint8Array,
): Uint8Array {
  const nonce = controlNonce(polarity, seq);
  const a = contextOf(key);
  if (!a) return chacha20poly1305(key, nonce).encrypt(plaintext);
  const out = new Uint8Array(plaintext.length + TAG_BYTES);
  a.seal(nonce, NO_AAD, plaintext, out);
  return out;
}

/** Opens one sealed body; null when it does not authenticate under this key, polarity, seq. */
export function openControl(
  key: Uint8Array,
  polarity: Polarity,
  seq: bigint,
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < TAG_BYTES) return null;
  const nonce = controlNonce(polarity, seq);
  const a = contextOf(key);
  if (a) {
    const out = new Uint8Array(sealed.length - TAG_BYTES);
    return a.open(nonce, NO_AAD, sealed, out) === out.length ? out : null;
  }
  try {
    return chacha20poly1305(key, nonce).decrypt(sealed);
  } catch {
    return null;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const MAX_SEQ = (1n << 64n) - 1n;

/** Sequence-numbered sealing and opening for one session; holds the keys, does no I/O. */
export class SecureChannel {
  #sendSeq = 0n;
  #recvSeq = 0n;
  #nextRecvKey: Uint8Array | null = null;
  readonly #sendPolarity: Polarity;
  readonly #recvPolarity: Polarity;

  constructor(
    private sendKey: Uint8Array,
    private recvKey: Uint8Array,
    localIsDialer: boolean,
  ) {
    this.#sendPolarity = localIsDialer ? 0 : 1;
    this.#recvPolarity = localIsDialer ? 1 : 0;
  }

  /**
   * Seals with a new key from the next message on (a rekey): a new key starts a new nonce
   * space, so the sequence starts again at 0. The old key is wiped.
   */
  replaceSendKey(key: Uint8Array): void {
    forgetControlKey(this.sendKey);
    this.sendKey.fill(0);
    this.sendKey = key;
    this.#sendSeq = 0n;
  }

  /**
   * Accepts the peer's messages under a new key too (a rekey): the first message that
   * authenticates under it as sequence 0 makes it the receive key (the old one is wiped);
   * until then the old key opens the peer's messages as before. So the switch follows the
   * peer's first message under the new key, wherever that falls.
   */
  expectRecvKey(key: Uint8Array): void {
    if (this.#nextRecvKey) forgetControlKey(this.#nextRecvKey);
    this.#nextRecvKey?.fill(0);
    this.#nextRecvKey = key;
  }

  /** Messages sealed so far. */
  get sent(): bigint {
    return this.#sendSeq;
  }

  /** Messages opened so far. */
  get received(): bigint {
    return this.#recvSeq;
  }

  /** The complete frame (u32 length ‖ sealed JSON) for one message. Throws if it is too big. */
  seal(msg: ControlMessage): Uint8Array {
    const plain = encoder.encode(JSON.stringify(msg));
    if (plain.length + TAG_BYTES > MAX_FRAME_BYTES) {
      throw new RangeError(
        `control message of type ${msg.type} is ${plain.length} bytes; the bound is ${
          MAX_FRAME_BYTES - TAG_BYTES
        }`,
      );
    }
    if (this.#sendSeq === MAX_SEQ) throw new RangeError("control sequence numbers exhausted");
    const sealed = sealControl(this.sendKey, this.#sendPolarity, this.#sendSeq++, plain);
    const frame = new Uint8Array(4 + sealed.length);
    new DataView(frame.buffer).setUint32(0, sealed.length);
    frame.set(sealed, 4);
    return frame;
  }

  /**
   * Opens the body of the next frame. Throws WireError "forged" when it does not authenticate
   * as the next message (forged, replayed, reordered), "garbage" when it is not a JSON object
   * with a string `type`.
   */
  open(body: Uint8Array): ControlMessage {
    let plain = openControl(this.recvKey, this.#recvPolarity, this.#recvSeq, body);
    if (plain === null && this.#nextRecvKey) {
      plain = openControl(this.#nextRecvKey, this.#recvPolarity, 0n, body);
      if (plain !== null) {
        forgetControlKey(this.recvKey);
        this.recvKey.fill(0);
        this.recvKey = this.#nextRecvKey;
        this.#nextRecvKey = null;
        this.#recvSeq = 0n;
      }
    }
    if (plain === null) {
      throw new WireError(
        "forged",
        `control message ${this.#recvSeq} failed authentication (forged, replayed or out of order)`,
      );
    }
    this.#recvSeq++;
    let msg: unknown;
    try {
      msg = JSON.parse(decoder.decode(plain));
    } catch {
      throw new WireError("garbage", "a sealed control message is not JSON");
    }
    if (
      typeof msg !== "object" || msg === null || Array.isArray(msg) ||
      typeof (msg as { type?: unknown }).type !== "string"
    ) {
      throw new WireError("garbage", "a sealed control message has no string `type`");
    }
    return msg as ControlMessage;
  }
}
