/**
 * Transmit-side offload for the sleeve. With TUNSETOFFLOAD (checksum + TSO) the kernel hands the
 * TAP reader whole 64 KB TCP super-frames, and frames whose checksum it left to "the NIC"; here
 * the sleeve is the NIC: it completes partial checksums and cuts super-frames into MSS-sized
 * segments, each a normal frame of at most the overlay MTU.
 *
 * @module
 */

import { fold, sum16, viewOf } from "./checksum.ts";
import { GSO_ECN, GSO_TCPV4, GSO_TCPV6 } from "./virtio_net.ts";
import { copyBytes } from "./copy_bytes.ts";

export { GSO_TCPV4 } from "./virtio_net.ts";

/**
 * Where the TCP header starts in an Ethernet frame carrying IPv4 or IPv6 (no extension headers)
 * TCP, with room for the checksum field; -1 for anything else. For frames that arrive with a
 * partial checksum (wire type 2), to tell the kernel where to finish it.
 */
export function tcpChecksumStart(f: Uint8Array, len: number): number {
  if (len < 14 + 40) return -1;
  const ethType = (f[12] << 8) | f[13];
  let start: number;
  if (ethType === 0x0800) {
    if (f[14 + 9] !== 6 || (f[14] >> 4) !== 4) return -1;
    start = 14 + (f[14] & 0x0f) * 4;
  } else if (ethType === 0x86dd) {
    if (f[14 + 6] !== 6 || (f[14] >> 4) !== 6) return -1;
    start = 14 + 40;
  } else return -1;
  return start + 20 <= len ? start : -1;
}

/** Finishes a CHECKSUM_PARTIAL frame: the field already holds the pseudo-header sum. */
export function completeChecksum(
  f: Uint8Array,
  len: number,
  start: number,
  offset: number,
): boolean {
  const at = start + offset;
  if (start >= len || at + 2 > len) return false;
  const c = ~fold(sum16(viewOf(f), start, len - start)) & 0xffff;
  f[at] = c >> 8;
  f[at + 1] = c & 0xff;
  return true;
}

/**
 * Splits the TCP super-frame `f[0:len]` into segments of `mss` payload bytes, calling
 * `emit(seg, segLen)` for each (the same `seg` buffer is reused). Returns the number of
 * segments, or -1 for a frame it does not understand (the caller drops and counts it).
 *
 * With `partial`, each segment's TCP checksum field gets only the pseudo-header sum
 * (CHECKSUM_PARTIAL): summing every payload byte in JavaScript was the largest single cost of
 * the send path, and a receiver that knows (wire type 2) lets its kernel finish the sum only if
 * the frame leaves the box. Without it, each segment carries its full checksum.
 */
export function segmentTcp(
  f: Uint8Array,
  len: number,
  gsoType: number,
  mss: number,
  seg: Uint8Array,
  emit: (seg: Uint8Array, segLen: number) => void,
  partial = false,
): number {
  const type = gsoType & ~GSO_ECN;
  const v4 = type === GSO_TCPV4;
  if (!v4 && type !== GSO_TCPV6) return -1;
  const ethType = (f[12] << 8) | f[13];
  if (v4 ? ethType !== 0x0800 : ethType !== 0x86dd) return -1;
  const ipOff = 14;
  const ipHl = v4 ? (f[ipOff] & 0x0f) * 4 : 40;
  if (!v4 && f[ipOff + 6] !== 6) return -1; // extension headers: not ours to parse
  const tcpOff = ipOff + ipHl;
  const tcpHl = (f[tcpOff + 12] >> 4) * 4;
  const hdrLen = tcpOff + tcpHl;
  if (mss <= 0 || tcpHl < 20 || hdrLen > len) return -1;
  const total = len - hdrLen;
  const v = viewOf(f);
  const seq0 = v.getUint32(tcpOff + 4);
  const id0 = v4 ? v.getUint16(ipOff + 4) : 0;
  const flags0 = f[tcpOff + 13];
  // Pseudo-header: addresses and protocol are the same for every segment.
  const addrSum = v4 ? sum16(v, ipOff + 12, 8) : sum16(v, ipOff + 8, 32);
  const sv = viewOf(seg);
  // Every header field that differs between segments is rewritten below: copy the header once.
  copyBytes(seg, 0, f, 0, hdrLen);
  let n = 0;
  for (let off = 0; off < total || (total === 0 && n === 0); off += mss) {
    const chunk = Math.min(mss, total - off);
    copyBytes(seg, hdrLen, f, hdrLen + off, hdrLen + off + chunk);
    const last = off + chunk >= total;
    if (v4) {
      sv.setUint16(ipOff + 2, ipHl + tcpHl + chunk);
      sv.setUint16(ipOff + 4, (id0 + n) & 0xffff);
      sv.setUint16(ipOff + 10, 0);
      sv.setUint16(ipOff + 10, ~fold(sum16(sv, ipOff, ipHl)) & 0xffff);
    } else {
      sv.setUint16(ipOff + 4, tcpHl + chunk);
    }
    sv.setUint32(tcpOff + 4, (seq0 + off) >>> 0);
    let flags = flags0;
    if (!last) flags &= ~0x09; // FIN and PSH only on the last segment
    if (n > 0) flags &= ~0x80; // CWR only on the first
    seg[tcpOff + 13] = flags;
    const tcpLen = tcpHl + chunk;
    if (partial) {
      sv.setUint16(tcpOff + 16, fold(addrSum + 6 + tcpLen));
    } else {
      sv.setUint16(tcpOff + 16, 0);
      sv.setUint16(tcpOff + 16, ~fold(sum16(sv, tcpOff, tcpLen, addrSum + 6 + tcpLen)) & 0xffff);
    }
    emit(seg, hdrLen + chunk);
    n++;
    if (total === 0) break;
  }
  return n;
}
