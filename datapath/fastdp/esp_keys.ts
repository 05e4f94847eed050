/**
 * ESP keys for a fast-datapath pair, per direction, from the session: key + salt (36 bytes,
 * for rfc4106(gcm(aes)) with a 256-bit key) and SPI, with HKDF-SHA256 (salt = dialer nonce ‖
 * listener nonce, info naming purpose and direction).
 *
 * How the SPI is chosen, and why it never repeats with a new key: each direction's SPI is 32
 * bits of HKDF output under its own info string, from the same fresh session nonces as the key
 * (values below 0x100, reserved by RFC 4303, are moved up). A new session therefore has new keys
 * and new, unpredictable SPIs; both ends derive the same ones without negotiating. Two sessions
 * land on the same SPI only by a 2^-32 chance, and then the planner never lets the new key sit
 * under the old SPI: an SA whose identity (src, dst, SPI) the kernel already holds with another
 * key is removed before the new one is added, and two desired SAs with one SPI are refused
 * (`host/plan_esp.ts`). Every SA also carries a hard lifetime (`ESP_SA_HARD_LIFETIME_S`), so an
 * SA of a dead agent, and its key, is gone from the kernel within that time.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The part of a session the ESP derivation needs. */
export interface EspSessionInput {
  sessionKey: Uint8Array;
  dialerNonce: Uint8Array;
  listenerNonce: Uint8Array;
  localIsDialer: boolean;
}

function derive(s: EspSessionInput, info: string, length: number): Uint8Array {
  const salt = new Uint8Array(64);
  salt.set(s.dialerNonce);
  salt.set(s.listenerNonce, 32);
  return hkdf(sha256, s.sessionKey, salt, new TextEncoder().encode(info), length);
}

/** SPIs 0..255 are reserved by RFC 4303; ours also never collide with 0. */
function spiFrom(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  return v < 0x100 ? v + 0x100 : v;
}

/** ESP key (32-byte AES key + 4-byte salt) and SPI of one direction. */
export interface EspDirection {
  key: Uint8Array;
  spi: number;
}

/** One direction's ESP parameters. */
export function deriveEspDirection(
  s: EspSessionInput,
  direction: "dialer->listener" | "listener->dialer",
): EspDirection {
  return {
    key: derive(s, `weave-agent v1 esp ${direction}`, 36),
    spi: spiFrom(derive(s, `weave-agent v1 esp spi ${direction}`, 4)),
  };
}

/** Outbound and inbound ESP parameters for this side of the pair. */
export function deriveEspKeys(s: EspSessionInput): { out: EspDirection; in: EspDirection } {
  const d2l = deriveEspDirection(s, "dialer->listener");
  const l2d = deriveEspDirection(s, "listener->dialer");
  return s.localIsDialer ? { out: d2l, in: l2d } : { out: l2d, in: d2l };
}
