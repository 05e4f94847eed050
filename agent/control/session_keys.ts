/**
 * Key derivations of the control plane. Pure functions over bytes.
 *
 * - shared secret = X25519(local private, remote public), all-zero results refused;
 * - session key = SHA-256(shared secret ‖ password) (or SHA-256(shared secret) without one);
 * - per purpose and direction, keys are HKDF-SHA256(session key, salt = dialer nonce ‖
 *   listener nonce, info = "weave-agent v1 <purpose> <direction>"), so no two purposes or
 *   directions, and no two sessions, ever share a key.
 *
 * @module
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";

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
