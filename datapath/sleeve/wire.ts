/**
 * The sleeve datagram: a 16-byte header, authenticated as associated data, then one sealed
 * Ethernet frame.
 *
 *   u8 type | u24 VNI | u32 receiver index | u64 sequence number (big-endian)
 *
 * Types: 1 = a frame as it was on the wire; 2 = a TCP segment whose checksum is left partial
 * (the TCP checksum field holds the pseudo-header sum, as with CHECKSUM_PARTIAL): the sender cut
 * it from a TSO super-frame and did not sum its payload, and the receiver hands it to its TAP
 * with NEEDS_CSUM, so the kernel finishes the checksum only if the frame ever leaves the box.
 * The AEAD tag already guarantees the bytes arrived intact. 3 = a keepalive (#15): no frame,
 * the tag over the header only.
 *
 * The nonce is u32 direction (0: sent by the dialer, 1: by the listener) ‖ u64 sequence.
 *
 * Type 4 = a relayed datagram (#16): a 12-byte relay header in front of a whole sleeve datagram
 * of another pair, which the relay forwards without opening (it has no keys for that pair):
 *
 *   u8 type (4) | u8 hops left | u16 zero | u32 destination id | u32 source id (big-endian)
 *
 * The ids name boxes fleet-wide (agent/relay/relay_ids.ts); nothing in the relay header is
 * authenticated, and nothing needs to be: the inner datagram is, under the pair's own keys.
 *
 * Sequence numbers are handled as JS numbers, exact below 2^53 (decades at line rate; a sender
 * stops before and the session is re-keyed): a BigInt per packet costs more than it protects.
 * Nothing here allocates: these run for every packet. A leaf module (no imports): mtu.ts, and
 * through it config/, take the sizes from here.
 *
 * @module
 */

/** The datagram header, authenticated as associated data. */
export const HEADER_BYTES = 16;
/** The AEAD tag after the ciphertext (both AEADs the sleeve uses have 16 bytes). */
export const TAG_BYTES = 16;
/** The AEAD nonce: u32 direction ‖ u64 sequence number. */
export const NONCE_BYTES = 12;
export const TYPE_DATA = 1;
export const TYPE_DATA_CSUM_PARTIAL = 2;
/**
 * A keepalive (#15): header and tag only, no frame. Sealed and sequenced like data, so it
 * holds a NAT's mapping open and lets the receiver learn where the sender is now; the receiver
 * writes nothing anywhere for it. VNI 0.
 */
export const TYPE_KEEPALIVE = 3;
export const TYPE_RELAY = 4;
/** The relay header in front of a relayed datagram. */
export const RELAY_HEADER_BYTES = 12;
/** Relays a datagram may pass at most (the sender's hops-left field). */
export const RELAY_MAX_HOPS = 4;

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function writeHeader(
  buf: Uint8Array,
  vni: number,
  receiverIndex: number,
  seq: number,
  type = TYPE_DATA,
): void {
  put32(buf, 0, (type << 24) | (vni & 0xffffff));
  put32(buf, 4, receiverIndex >>> 0);
  put32(buf, 8, Math.floor(seq / 0x100000000));
  put32(buf, 12, seq >>> 0);
}

/** Largest sequence number a sender uses (2^53 - 1). */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Writes a relay header for `dst` from `src` into `buf` at 0. */
export function writeRelayHeader(buf: Uint8Array, dst: number, src: number): void {
  buf[0] = TYPE_RELAY;
  buf[1] = RELAY_MAX_HOPS;
  buf[2] = buf[3] = 0;
  put32(buf, 4, dst >>> 0);
  put32(buf, 8, src >>> 0);
}

/** A relay header's hops left, destination and source id, at `at`. */
export const relayHops = (buf: Uint8Array, at: number): number => buf[at + 1];
export const relayDestination = (buf: Uint8Array, at: number): number => get32(buf, at + 4);
export const relaySource = (buf: Uint8Array, at: number): number => get32(buf, at + 8);

export const headerType = (buf: Uint8Array): number => buf[0];
export const headerVni = (buf: Uint8Array): number => get32(buf, 0) & 0xffffff;
export const headerIndex = (buf: Uint8Array): number => get32(buf, 4);

/** The sequence number; beyond 2^53 no honest sender goes, so those read as 0 (never valid). */
export function headerSeq(buf: Uint8Array): number {
  const hi = get32(buf, 8);
  return hi >= 0x200000 ? 0 : hi * 0x100000000 + get32(buf, 12);
}

export function writeNonce(nonce: Uint8Array, direction: number, seq: number): void {
  put32(nonce, 0, direction);
  put32(nonce, 4, Math.floor(seq / 0x100000000));
  put32(nonce, 8, seq >>> 0);
}
