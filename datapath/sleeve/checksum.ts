/**
 * The Internet checksum (RFC 1071), as the offloads need it: sums over big-endian 16-bit words,
 * folded to 16 bits. One home for the segmenter (segment.ts) and the coalescer (coalesce.ts).
 *
 * @module
 */

/**
 * One's-complement sum of `v[off:off+len]` as 16-bit big-endian words, added to `acc`,
 * unfolded. It adds 32-bit words (RFC 1071's deferred carries: 2^16 ≡ 1 modulo 2^16 − 1), half
 * the loop of a 16-bit sum; a JS number holds the carries exactly for any frame.
 */
export function sum16(v: DataView, off: number, len: number, acc = 0): number {
  let s = acc;
  let i = off;
  const end = off + len;
  for (; i + 4 <= end; i += 4) s += v.getUint32(i);
  if (i + 2 <= end) {
    s += v.getUint16(i);
    i += 2;
  }
  if (i < end) s += v.getUint8(i) << 8;
  return s;
}

/** Folds an unfolded sum to 16 bits (the checksum is its complement). */
export function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** A DataView over exactly the bytes of `b`. */
export const viewOf = (b: Uint8Array): DataView =>
  new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The IPv4 header checksum of the `headerBytes` (20 without options) at `off`. */
export function ipv4HeaderChecksum(buf: Uint8Array, off: number, headerBytes = 20): number {
  const saved0 = buf[off + 10], saved1 = buf[off + 11];
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const c = ~fold(sum16(viewOf(buf), off, headerBytes)) & 0xffff;
  buf[off + 10] = saved0;
  buf[off + 11] = saved1;
  return c;
}
