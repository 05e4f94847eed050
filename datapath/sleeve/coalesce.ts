/**
 * Receive-side coalescing for the sleeve: consecutive TCP segments of one flow, received in one
 * batch, go into the TAP as ONE super-frame with a virtio-net header (GSO TCPv4), so the bridge
 * and the receiving TCP stack make one pass instead of one per 1.4 KB segment — the step the
 * shared measurements found decisive for a userspace datapath.
 *
 * Only plain cases merge: IPv4 without options or fragments, TCP with only ACK (PSH allowed on
 * the last segment), identical headers apart from sequence number, IP id and checksums,
 * contiguous sequence numbers, equal segment sizes. Everything else passes through unchanged,
 * with an all-zero virtio-net header.
 *
 * @module
 */

import { ETHERNET_HEADER_BYTES as ETH } from "../mtu.ts";
import { fold, ipv4HeaderChecksum, sum16 } from "./checksum.ts";
import {
  GSO_TCPV4,
  TCP_CHECKSUM_OFFSET,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_BYTES,
  VNET_HDR_LEN,
} from "./virtio_net.ts";
import { copyBytes } from "./copy_bytes.ts";

export { ipv4HeaderChecksum } from "./checksum.ts";
export { VNET_HDR_BYTES } from "./virtio_net.ts";

/** IPv4's total-length field bounds a super-frame (after its Ethernet header). */
const MAX_SUPER = 65535 - ETH;
/**
 * Segments per super-frame: 44 full 1.4 KB segments fill the 64 KB IPv4 limit, and a bound keeps
 * one write from holding many small segments back.
 */
const MAX_SEGMENTS = 44;
/** IPv4 header without options, as the only kind merged. */
const IPV4_HEADER_BYTES = 20;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;

/** Where a frame's TCP parts are, when it is a segment we know how to merge. */
function tcpLayout(f: Uint8Array, len: number): TcpLayout | null {
  if (len < ETH + 40 || f[12] !== 0x08 || f[13] !== 0x00) return null; // IPv4
  if (f[ETH] !== 0x45 || f[ETH + 9] !== 6) return null; // no IP options, TCP
  if ((((f[ETH + 6] << 8) | f[ETH + 7]) & 0x3fff) !== 0) return null; // MF or offset: fragment
  const tot = (f[ETH + 2] << 8) | f[ETH + 3];
  if (ETH + tot > len) return null;
  const tcpOff = ETH + IPV4_HEADER_BYTES;
  const tcpHl = (f[tcpOff + 12] >> 4) * 4;
  if (tcpHl < 20 || tcpOff + tcpHl > ETH + tot) return null;
  // One result object, filled per call (its callers read it before the next): no garbage per
  // segment.
  layout.tcpOff = tcpOff;
  layout.tcpHl = tcpHl;
  layout.payload = tot - IPV4_HEADER_BYTES - tcpHl;
  return layout;
}

interface TcpLayout {
  tcpOff: number;
  tcpHl: number;
  payload: number;
}
const layout: TcpLayout = { tcpOff: 0, tcpHl: 0, payload: 0 };

/** Room for one super-frame: the virtio-net header, an Ethernet header, a 64 KB IP datagram. */
export const COALESCER_BUFFER_BYTES = VNET_HDR_BYTES + ETH + 65535;

/**
 * Collects frames for one TAP; `flush()` writes what is pending. `write(buf, len)` receives a
 * buffer that starts with the virtio-net header.
 */
export class Coalescer {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0; // bytes after the vnet header
  #segments = 0;
  #mss = 0;
  #nextSeq = 0;
  #closed = false;
  #tcpHl = 0;
  #fd = -1;
  /** Where the first frame's partial TCP checksum is to be finished (0: it is complete). */
  #csumStart = 0;
  /** Super-frames written (more than one segment), for tests and counters. */
  merged = 0;

  /**
   * `buf` ({@link COALESCER_BUFFER_BYTES}), when given, is where super-frames are built: a
   * caller that opens frames into a view of the same ArrayBuffer copies them without garbage
   * (copy_bytes.ts).
   */
  constructor(
    private readonly write: (fd: number, buf: Uint8Array, len: number) => void,
    buf: Uint8Array = new Uint8Array(COALESCER_BUFFER_BYTES),
  ) {
    if (buf.length < COALESCER_BUFFER_BYTES) {
      throw new Error(`coalescer: buffer of ${buf.length} bytes, needs ${COALESCER_BUFFER_BYTES}`);
    }
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  /**
   * Adds one Ethernet frame (no vnet header) destined for the TAP `fd`. `csumStart`, when not
   * 0, says the frame's TCP checksum is partial and where its TCP header starts.
   */
  add(fd: number, f: Uint8Array, len: number, csumStart = 0): void {
    if (this.#segments > 0 && this.#tryMerge(fd, f, len)) return;
    this.flush();
    this.#fd = fd;
    this.#csumStart = csumStart;
    copyBytes(this.#buf, VNET_HDR_BYTES, f, 0, len);
    this.#len = len;
    this.#segments = 1;
    const t = tcpLayout(f, len);
    const flags = t ? f[t.tcpOff + 13] : 0;
    // Only a pure ACK segment with data can start a merge; anything else goes out alone.
    this.#closed = !t || t.payload === 0 || flags !== TCP_ACK;
    if (t) {
      this.#tcpHl = t.tcpHl;
      this.#mss = t.payload;
      this.#nextSeq =
        (((f[t.tcpOff + 4] << 24) >>> 0) + (f[t.tcpOff + 5] << 16) + (f[t.tcpOff + 6] << 8) +
          f[t.tcpOff + 7] + t.payload) >>> 0;
      // Trim Ethernet padding: only the IP datagram counts.
      this.#len = ETH + IPV4_HEADER_BYTES + t.tcpHl + t.payload;
    }
  }

  #tryMerge(fd: number, f: Uint8Array, len: number): boolean {
    if (this.#closed || fd !== this.#fd) return false;
    const t = tcpLayout(f, len);
    if (!t || t.tcpHl !== this.#tcpHl || t.payload === 0 || t.payload > this.#mss) return false;
    const p = this.#buf, o = VNET_HDR_BYTES;
    // Same Ethernet header, same IP header apart from length, id and checksum.
    for (let i = 0; i < ETH; i++) if (p[o + i] !== f[i]) return false;
    if (p[o + ETH + 1] !== f[ETH + 1] || p[o + ETH + 8] !== f[ETH + 8]) return false; // TOS, TTL
    for (let i = 12; i < 20; i++) if (p[o + ETH + i] !== f[ETH + i]) return false; // addresses
    const to = t.tcpOff;
    for (let i = 0; i < 4; i++) if (p[o + to + i] !== f[to + i]) return false; // ports
    for (let i = 8; i < 12; i++) if (p[o + to + i] !== f[to + i]) return false; // ack
    const flags = f[to + 13];
    if ((flags & ~TCP_PSH) !== TCP_ACK) return false;
    for (let i = 14; i < 16; i++) if (p[o + to + i] !== f[to + i]) return false; // window
    for (let i = 20; i < t.tcpHl; i++) if (p[o + to + i] !== f[to + i]) return false; // options
    const seq = (((f[to + 4] << 24) >>> 0) + (f[to + 5] << 16) + (f[to + 6] << 8) + f[to + 7]) >>>
      0;
    if (seq !== this.#nextSeq) return false;
    if (this.#len + t.payload > MAX_SUPER || this.#segments >= MAX_SEGMENTS) return false;
    copyBytes(p, o + this.#len, f, to + t.tcpHl, to + t.tcpHl + t.payload);
    this.#len += t.payload;
    this.#segments++;
    this.#nextSeq = (seq + t.payload) >>> 0;
    if (flags & TCP_PSH) p[o + to + 13] |= TCP_PSH;
    // A short segment or PSH ends the run: what follows cannot be glued behind it.
    if (t.payload < this.#mss || (flags & TCP_PSH)) this.#closed = true;
    return true;
  }

  /** Writes the pending frame (a super-frame when several segments merged). */
  flush(): void {
    if (this.#segments === 0) return;
    const p = this.#buf;
    const v = this.#view;
    p.fill(0, 0, VNET_HDR_BYTES);
    if (this.#segments > 1) {
      const ip = VNET_HDR_BYTES + ETH;
      const tcp = ip + IPV4_HEADER_BYTES;
      const tot = this.#len - ETH;
      p[ip + 2] = tot >> 8;
      p[ip + 3] = tot & 0xff;
      const c = ipv4HeaderChecksum(p, ip);
      p[ip + 10] = c >> 8;
      p[ip + 11] = c & 0xff;
      // CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header sum; the kernel adds
      // the segment's own bytes when it segments or delivers.
      const tcpLen = tot - IPV4_HEADER_BYTES;
      // Pseudo-header: source and destination address (8 bytes at 12), protocol 6, TCP length.
      const pseudo = fold(sum16(v, ip + 12, 8, 6 + tcpLen));
      v.setUint16(tcp + TCP_CHECKSUM_OFFSET, pseudo);
      v.setUint8(VNET_FLAGS, VIRTIO_NET_HDR_F_NEEDS_CSUM);
      v.setUint8(VNET_GSO_TYPE, GSO_TCPV4);
      v.setUint16(VNET_HDR_LEN, ETH + IPV4_HEADER_BYTES + this.#tcpHl, true);
      v.setUint16(VNET_GSO_SIZE, this.#mss, true);
      v.setUint16(VNET_CSUM_START, ETH + IPV4_HEADER_BYTES, true);
      v.setUint16(VNET_CSUM_OFFSET, TCP_CHECKSUM_OFFSET, true);
      this.merged++;
    } else if (this.#csumStart !== 0) {
      // One segment with a partial checksum: the kernel finishes it if the frame leaves the box.
      v.setUint8(VNET_FLAGS, VIRTIO_NET_HDR_F_NEEDS_CSUM);
      v.setUint16(VNET_CSUM_START, this.#csumStart, true);
      v.setUint16(VNET_CSUM_OFFSET, TCP_CHECKSUM_OFFSET, true);
    }
    this.write(this.#fd, p, VNET_HDR_BYTES + this.#len);
    this.#segments = 0;
    this.#len = 0;
  }
}
