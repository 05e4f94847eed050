/**
 * Key derivations of the control plane. Pure functions over bytes.
 *
 * - shared secret = X25519(local private, remote public), all-zero results refused;
 * - session key = SHA-256(shared secret ‖ password) (or SHA-256(shared secret) without one):
 *   the seed's construction, and in protocol v2 the final step on top of the password-bound
 *   CPace exchange (`key_schedule.ts`: there the shared secret is the 32-byte output of CPace,
 *   the node-key terms and the transcript);
 * - `derivePurposeKey` / `deriveControlKeys` / `confirmationMac`: the v1 derivations (HKDF with
 *   salt = dialer nonce ‖ listener nonce, info "weave-agent v1 …"), kept for the root `mod.ts`
 *   API and for the datapaths, which still derive their keys from `SessionSecrets.sessionKey`
 *   this way; v2's per-purpose keys (`SessionSecrets.keys`) come from `deriveSessionKeySet`.
 *
 * @module
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import type { SessionKeySet } from "./key_schedule.ts";

/** What a session hands to the datapaths: they derive their own keys from it. */
export interface SessionSecrets {
  /** 32 bytes. Never logged. */
  sessionKey: Uint8Array;
  /** 32 random bytes sent by the side that dialled. */
  dialerNonce: Uint8Array;
  /** 32 random bytes sent by the side that accepted. */
  listenerNonce: Uint8Array;
  localIsDialer: boolean;
  /** False when no password is configured: the session key then authenticates nobody. */
  authenticated: boolean;
  /** Locally unique, increasing per new session. */
  id: number;
  /*
   * The v2 fields below are always set by the session layer (`session_agreement.ts`); they are
   * optional only so that fixtures built elsewhere from the v1 fields stay valid.
   */
  /**
   * v2 per-purpose keys of both directions (control, sleeve, ESP with SPI), bound to the
   * transcript and both receiver indices (`localKeys` gives one end's view). Once the
   * datapaths take their keys from here, `sessionKey` can be wiped right after the handshake.
   */
  keys?: SessionKeySet;
  /** Transcript hash of the handshake (the chain the rekeys continue). */
  transcriptHash?: Uint8Array;
  /** Which of this box's passwords the session uses (#14: `status` shows it). */
  password?: "current" | "previous";
  /** The peer proved the node key weave.yaml gives it (#15). */
  peerProvedKey?: boolean;
}

/** A fresh X25519 key pair for one connection. */
export function generateEphemeral(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** X25519(localPrivate, remotePublic); throws on a low-order remote key (all-zero result). */
export function deriveSharedSecret(localPrivate: Uint8Array, remotePublic: Uint8Array): Uint8Array {
  if (remotePublic.length !== 32) throw new Error("X25519 public key must be 32 bytes");
  const shared = x25519.getSharedSecret(localPrivate, remotePublic);
  if (shared.every((b) => b === 0)) throw new Error("X25519 produced an all-zero secret");
  return shared;
}

/** Session key = SHA-256(shared ‖ password). */
export function deriveSessionKey(
  localPrivate: Uint8Array,
  remotePublic: Uint8Array,
  password: Uint8Array | null,
): Uint8Array {
  return sessionKeyFromShared(deriveSharedSecret(localPrivate, remotePublic), password);
}

/** SHA-256(shared ‖ password), the step after the DH. */
export function sessionKeyFromShared(shared: Uint8Array, password: Uint8Array | null): Uint8Array {
  const input = new Uint8Array(shared.length + (password?.length ?? 0));
  input.set(shared);
  if (password) input.set(password, shared.length);
  return sha256(input);
}

/** Direction of traffic within a session. */
export type Direction = "dialer->listener" | "listener->dialer";

/** HKDF-SHA256 of the session key for one purpose and direction. */
export function derivePurposeKey(
  sessionKey: Uint8Array,
  dialerNonce: Uint8Array,
  listenerNonce: Uint8Array,
  purpose: string,
  direction: Direction,
  length = 32,
): Uint8Array {
  const salt = new Uint8Array(dialerNonce.length + listenerNonce.length);
  salt.set(dialerNonce);
  salt.set(listenerNonce, dialerNonce.length);
  return hkdf(
    sha256,
    sessionKey,
    salt,
    new TextEncoder().encode(`weave-agent v1 ${purpose} ${direction}`),
    length,
  );
}

/** Control-channel AEAD keys, one per direction. */
export function deriveControlKeys(
  sessionKey: Uint8Array,
  dialerNonce: Uint8Array,
  listenerNonce: Uint8Array,
): { dialerToListener: Uint8Array; listenerToDialer: Uint8Array } {
  return {
    dialerToListener: derivePurposeKey(
      sessionKey,
      dialerNonce,
      listenerNonce,
      "control",
      "dialer->listener",
    ),
    listenerToDialer: derivePurposeKey(
      sessionKey,
      dialerNonce,
      listenerNonce,
      "control",
      "listener->dialer",
    ),
  };
}

/**
 * Key confirmation: HMAC-SHA256 over the SHA-256 of the whole handshake transcript, keyed per
 * direction. Equal MACs prove both ends derived the same session key from the same transcript;
 * a wrong password or a tampered header changes it.
 */
export function confirmationMac(
  sessionKey: Uint8Array,
  dialerNonce: Uint8Array,
  listenerNonce: Uint8Array,
  direction: Direction,
  transcriptHash: Uint8Array,
): Uint8Array {
  const key = derivePurposeKey(sessionKey, dialerNonce, listenerNonce, "confirm", direction);
  return hmac(sha256, key, transcriptHash);
}

/** Constant-time comparison. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
