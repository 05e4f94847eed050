/**
 * The sleeve datagram: a 16-byte header, authenticated as associated data, then one sealed
 * Ethernet frame.
 *
 *   u8 type (1 = data) | u24 VNI | u32 receiver index | u64 sequence number (big-endian)
 *
 * The nonce is u32 direction (0: sent by the dialer, 1: by the listener) ‖ u64 sequence.
 *
 * @module
 */

export const HEADER_BYTES = 16;
export const TYPE_DATA = 1;

export function writeHeader(
  buf: Uint8Array,
  vni: number,
  receiverIndex: number,
  seq: bigint,
): void {
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
  v.setUint32(0, (TYPE_DATA << 24) | (vni & 0xffffff));
  v.setUint32(4, receiverIndex >>> 0);
  v.setBigUint64(8, seq);
}

export function readHeader(
  buf: Uint8Array,
): { type: number; vni: number; index: number; seq: bigint } {
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
  const w = v.getUint32(0);
  return { type: w >>> 24, vni: w & 0xffffff, index: v.getUint32(4), seq: v.getBigUint64(8) };
}

export function writeNonce(nonce: Uint8Array, direction: number, seq: bigint): void {
  const v = new DataView(nonce.buffer, nonce.byteOffset, 12);
  v.setUint32(0, direction);
  v.setBigUint64(4, seq);
}
