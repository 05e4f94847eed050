/**
 * Sleeve keys: one per direction, HKDF-SHA256 of the session key (salt = dialer nonce ‖
 * listener nonce, info "weave-agent v1 sleeve <direction>"), distinct from the control
 * channel's and ESP's keys by their info strings.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The session secrets the sleeve needs. */
export interface SleevePeerKeys {
  sessionKey: Uint8Array;
  dialerNonce: Uint8Array;
  listenerNonce: Uint8Array;
  localIsDialer: boolean;
}

function derive(k: SleevePeerKeys, direction: string): Uint8Array {
  const salt = new Uint8Array(64);
  salt.set(k.dialerNonce);
  salt.set(k.listenerNonce, 32);
  return hkdf(
    sha256,
    k.sessionKey,
    salt,
    new TextEncoder().encode(`weave-agent v1 sleeve ${direction}`),
    32,
  );
}

/**
 * A fingerprint of a session's keys (not secret: a hash), by which the packet worker recognises
 * the same keys again and keeps their sequence numbers.
 */
export function sessionFingerprint(tx: Uint8Array, rx: Uint8Array): string {
  const both = new Uint8Array(tx.length + rx.length);
  both.set(tx);
  both.set(rx, tx.length);
  const h = sha256(both);
  both.fill(0);
  return Array.from(h.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * This side's send and receive keys, and the direction number that goes into the nonce
 * (0: sent by the dialer, 1: sent by the listener).
 */
export function deriveSleeveKeys(
  k: SleevePeerKeys,
): { tx: Uint8Array; rx: Uint8Array; txDirection: 0 | 1 } {
  const d2l = derive(k, "dialer->listener");
  const l2d = derive(k, "listener->dialer");
  return k.localIsDialer
    ? { tx: d2l, rx: l2d, txDirection: 0 }
    : { tx: l2d, rx: d2l, txDirection: 1 };
}
