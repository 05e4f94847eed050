/**
 * The sleeve datagram: a 16-byte header, authenticated as associated data, then one sealed
 * Ethernet frame.
 *
 *   u8 type (1 = data) | u24 VNI | u32 receiver index | u64 sequence number (big-endian)
 *
 * The nonce is u32 direction (0: sent by the dialer, 1: by the listener) ‖ u64 sequence.
 *
 * Sequence numbers are handled as JS numbers, exact below 2^53 (decades at line rate; a sender
 * stops before and the session is re-keyed): a BigInt per packet costs more than it protects.
 *
 * @module
 */

export const HEADER_BYTES = 16;
export const TYPE_DATA = 1;

export function writeHeader(
  buf: Uint8Array,
  vni: number,
  receiverIndex: number,
  seq: number,
): void {
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
  v.setUint32(0, (TYPE_DATA << 24) | (vni & 0xffffff));
  v.setUint32(4, receiverIndex >>> 0);
  v.setUint32(8, Math.floor(seq / 0x100000000));
  v.setUint32(12, seq >>> 0);
}

/** Largest sequence number a sender uses (2^53 - 1). */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export function readHeader(
  buf: Uint8Array,
): { type: number; vni: number; index: number; seq: number } {
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
  const w = v.getUint32(0);
  const hi = v.getUint32(8);
  // Beyond 2^53 no honest sender goes: 0 is never accepted by the replay window.
  const seq = hi >= 0x200000 ? 0 : hi * 0x100000000 + v.getUint32(12);
  return { type: w >>> 24, vni: w & 0xffffff, index: v.getUint32(4), seq };
}

export function writeNonce(nonce: Uint8Array, direction: number, seq: number): void {
  const v = new DataView(nonce.buffer, nonce.byteOffset, 12);
  v.setUint32(0, direction);
  v.setUint32(4, Math.floor(seq / 0x100000000));
  v.setUint32(8, seq >>> 0);
}
