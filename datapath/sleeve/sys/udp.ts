/**
 * The sleeve's UDP socket: binding, socket addresses, and the two batching calls that make a
 * userspace datapath fast here, UDP GSO on send (`UDP_SEGMENT`) and UDP GRO on receive.
 *
 * @module
 */

import type { IpAddress } from "../../../config/mod.ts";
import { errnoText, libc, pointerValue } from "./libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const UDP_GRO = 104;

/** sizeof(struct sockaddr_in). */
const SOCKADDR_IN_BYTES = 16;
/** sizeof(struct sockaddr_in6): the largest address a receive may write. */
export const SOCKADDR_MAX_BYTES = 28;
/** Offsets inside sockaddr_in / sockaddr_in6: family (host order), port (network order). */
const SA_FAMILY = 0;
const SA_PORT = 2;
const SA_IN_ADDR = 4;
const SA_IN6_ADDR = 8;

/** struct msghdr (x86-64/aarch64 LP64): name, namelen, iov, iovlen, control, controllen, flags. */
const MSGHDR_BYTES = 56;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
/** struct iovec: base, len. */
const IOVEC_BYTES = 16;
const IOV_BASE = 0;
const IOV_LEN = 8;
/** struct cmsghdr: u64 len, i32 level, i32 type, then the data (aligned to 8). */
const CMSG_HDR_BYTES = 16;
const CMSG_LEN = 0;
const CMSG_LEVEL = 8;
const CMSG_TYPE = 12;
const CMSG_DATA = 16;
/** CMSG_SPACE(sizeof(u16)) for UDP_SEGMENT, and CMSG_LEN of the same. */
const GSO_CMSG_SPACE = 24;
const GSO_CMSG_LEN = 18n;
/** Room for the control messages a GRO receive may carry. */
const GRO_CONTROL_BYTES = 64;

/**
 * Receive buffer asked for (the kernel doubles it for its accounting): the one queue a bulk
 * transfer can fill in front of the worker when the worker is the bottleneck, so it is what a
 * ping behind that transfer waits for. Measured here (two lab hosts, single-stream iperf3 with
 * BBR, whose allowance for ACK aggregation kept ~1500 packets in flight), on a box at load ~90:
 * with 8 MB or 1 MB, pings behind the transfer waited 18–39 ms median (116–166 ms max); with
 * 128 KB 3.3 ms / 21 ms, and the transfer was faster (470 vs 359 Mbit/s). At 3 Gbit/s 256 KB is
 * 0.7 ms of queue; beyond it datagrams are dropped and TCP backs off.
 */
const RECEIVE_BUFFER_BYTES = 128 << 10;
/**
 * Send buffer asked for: room for several 64 KB GSO sends. It is no standing queue on the way
 * to the peer (a full device queue makes sendmsg fail, counted as txErrors).
 */
const SEND_BUFFER_BYTES = 1 << 20;

/**
 * Encodes a socket address (IPv4 or IPv6). Addresses arrive parsed (config/'s parser, on the
 * main thread): the worker loads no parser.
 */
export function sockaddr(ip: IpAddress, port: number): Uint8Array {
  const b = new Uint8Array(ip.family === 6 ? SOCKADDR_MAX_BYTES : SOCKADDR_IN_BYTES);
  const v = new DataView(b.buffer);
  v.setUint16(SA_FAMILY, ip.family === 6 ? AF_INET6 : AF_INET, true);
  v.setUint16(SA_PORT, port);
  const at = ip.family === 6 ? SA_IN6_ADDR : SA_IN_ADDR;
  const bytes = ip.family === 6 ? 16 : 4;
  for (let i = 0; i < bytes; i++) {
    b[at + i] = Number((ip.value >> BigInt(8 * (bytes - 1 - i))) & 0xffn);
  }
  return b;
}

/**
 * A key for the address in a sockaddr: the same for the same address and port, whatever the
 * spelling of the text it was made from (both sides of a lookup go through {@link sockaddr}
 * bytes, so no text canonicalisation is needed). Cheap: runs per received batch.
 */
export function sockaddrKey(sa: Uint8Array): string {
  const v = new DataView(sa.buffer, sa.byteOffset);
  const port = v.getUint16(SA_PORT);
  if (v.getUint16(SA_FAMILY, true) === AF_INET) {
    const a = SA_IN_ADDR;
    return `${sa[a]}.${sa[a + 1]}.${sa[a + 2]}.${sa[a + 3]}:${port}`;
  }
  let k = "[";
  for (let i = 0; i < 8; i++) k += v.getUint16(SA_IN6_ADDR + i * 2).toString(16) + ":";
  return `${k}]:${port}`;
}

/** A copy of the sockaddr a receive wrote into `sa`, as long as its family needs. */
export function sockaddrCopy(sa: Uint8Array): Uint8Array {
  const v6 = new DataView(sa.buffer, sa.byteOffset).getUint16(SA_FAMILY, true) === AF_INET6;
  return sa.slice(0, v6 ? SOCKADDR_MAX_BYTES : SOCKADDR_IN_BYTES);
}

/** True when sockaddr `a` (a receive's) names the same address and port as `b` (ours). */
export function sameSockaddr(a: Uint8Array, b: Uint8Array): boolean {
  if (b.length === 0 || a[SA_FAMILY] !== b[SA_FAMILY] || a[SA_FAMILY + 1] !== b[SA_FAMILY + 1]) {
    return false;
  }
  const v6 = b.length === SOCKADDR_MAX_BYTES;
  const end = v6 ? SA_IN6_ADDR + 16 : SA_IN_ADDR + 4;
  if (a[SA_PORT] !== b[SA_PORT] || a[SA_PORT + 1] !== b[SA_PORT + 1]) return false;
  for (let i = v6 ? SA_IN6_ADDR : SA_IN_ADDR; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The address (dotted quad, or eight hex groups) and port of a sockaddr, for the log. */
export function sockaddrEndpoint(sa: Uint8Array): { address: string; port: number } {
  const v = new DataView(sa.buffer, sa.byteOffset);
  const port = v.getUint16(SA_PORT);
  if (v.getUint16(SA_FAMILY, true) === AF_INET) {
    const a = SA_IN_ADDR;
    return { address: `${sa[a]}.${sa[a + 1]}.${sa[a + 2]}.${sa[a + 3]}`, port };
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(v.getUint16(SA_IN6_ADDR + i * 2).toString(16));
  return { address: groups.join(":"), port };
}

function setIntOption(fd: number, level: number, name: number, value: number): boolean {
  const bytes = new Uint8Array(new Int32Array([value]).buffer);
  return libc().setsockopt(fd, level, name, bytes, bytes.length) >= 0;
}

/** A nonblocking UDP socket bound to address:port; returns its fd. */
export function openUdp(address: IpAddress, port: number): number {
  const c = libc();
  const sa = sockaddr(address, port);
  const fam = new DataView(sa.buffer).getUint16(SA_FAMILY, true);
  const fd = c.socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: ${errnoText()}`);
  // FORCE variants need CAP_NET_ADMIN (which we have); fall back to the plain ones.
  if (!setIntOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)) {
    setIntOption(fd, SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER_BYTES);
  }
  if (!setIntOption(fd, SOL_SOCKET, SO_SNDBUFFORCE, SEND_BUFFER_BYTES)) {
    setIntOption(fd, SOL_SOCKET, SO_SNDBUF, SEND_BUFFER_BYTES);
  }
  if (c.bind(fd, sa, sa.length) < 0) {
    const e = errnoText();
    c.close(fd);
    throw new Error(`bind UDP: ${e}`);
  }
  return fd;
}

/**
 * One sendmsg with UDP_SEGMENT: the kernel cuts `buf[0:len]` into datagrams of `segment` bytes
 * (the last may be shorter) and sends them as one pass through the stack (UDP GSO).
 */
export class UdpGsoSender {
  #msg = new Uint8Array(MSGHDR_BYTES);
  #iov = new Uint8Array(IOVEC_BYTES);
  #ctl = new Uint8Array(GSO_CMSG_SPACE);
  #mv = new DataView(this.#msg.buffer);
  #iv = new DataView(this.#iov.buffer);
  #cv = new DataView(this.#ctl.buffer);
  #sendmsg = libc().sendmsg;
  #sa: Uint8Array | null = null;

  constructor(private readonly fd: number, buf: Uint8Array) {
    this.#iv.setBigUint64(IOV_BASE, pointerValue(buf), true);
    this.#mv.setBigUint64(MSG_IOV, pointerValue(this.#iov), true);
    this.#mv.setBigUint64(MSG_IOVLEN, 1n, true);
    this.#mv.setBigUint64(MSG_CONTROL, pointerValue(this.#ctl), true);
    this.#mv.setBigUint64(MSG_CONTROLLEN, BigInt(GSO_CMSG_SPACE), true);
    this.#cv.setBigUint64(CMSG_LEN, GSO_CMSG_LEN, true);
    this.#cv.setInt32(CMSG_LEVEL, SOL_UDP, true);
    this.#cv.setInt32(CMSG_TYPE, UDP_SEGMENT, true);
  }

  /** Sends `len` bytes of the buffer to `sa` in datagrams of `segment` bytes; <0 on error. */
  send(sa: Uint8Array, len: number, segment: number): number {
    // A peer's sockaddr stays the same object: its address is looked up (and a BigInt made)
    // only when it changes, and lengths are written as two u32 halves, so a send makes no
    // garbage.
    if (sa !== this.#sa) {
      this.#sa = sa;
      this.#mv.setBigUint64(MSG_NAME, pointerValue(sa), true);
    }
    this.#mv.setUint32(MSG_NAMELEN, sa.length, true);
    setU64(this.#iv, IOV_LEN, len);
    this.#cv.setUint16(CMSG_DATA, segment, true);
    return this.#sendmsg(this.fd, this.#msg, 0);
  }
}

/** A little-endian u64 field from a number below 2^32 (no BigInt). */
function setU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, value, true);
  v.setUint32(at + 4, 0, true);
}

/** recvmsg with UDP_GRO: one call returns a run of same-sized datagrams and their size. */
export class UdpGroReceiver {
  #msg = new Uint8Array(MSGHDR_BYTES);
  #iov = new Uint8Array(IOVEC_BYTES);
  #ctl = new Uint8Array(GRO_CONTROL_BYTES);
  #mv = new DataView(this.#msg.buffer);
  #cv = new DataView(this.#ctl.buffer);
  #recvmsg = libc().recvmsg;
  /** Datagram size of the last receive's run (0: a single datagram). */
  segment = 0;

  private constructor(
    private readonly fd: number,
    buf: Uint8Array,
    private readonly sa: Uint8Array,
  ) {
    const iv = new DataView(this.#iov.buffer);
    iv.setBigUint64(IOV_BASE, pointerValue(buf), true);
    iv.setBigUint64(IOV_LEN, BigInt(buf.length), true);
    this.#mv.setBigUint64(MSG_NAME, pointerValue(sa), true);
    this.#mv.setBigUint64(MSG_IOV, pointerValue(this.#iov), true);
    this.#mv.setBigUint64(MSG_IOVLEN, 1n, true);
    this.#mv.setBigUint64(MSG_CONTROL, pointerValue(this.#ctl), true);
  }

  /** Turns UDP_GRO on for `fd`; null when the kernel does not have it (plain recvfrom then). */
  static enable(fd: number, buf: Uint8Array, sa: Uint8Array): UdpGroReceiver | null {
    if (!setIntOption(fd, SOL_UDP, UDP_GRO, 1)) return null;
    return new UdpGroReceiver(fd, buf, sa);
  }

  /**
   * Receives into the buffer and the sender into `sa`; returns the byte count (< 0: nothing
   * waiting) and sets {@link segment}.
   */
  receive(): number {
    this.#mv.setUint32(MSG_NAMELEN, this.sa.length, true);
    setU64(this.#mv, MSG_CONTROLLEN, GRO_CONTROL_BYTES);
    const len = this.#recvmsg(this.fd, this.#msg, 0);
    this.segment = 0;
    if (len < 0) return len;
    // Control lengths are far below 2^32: their low halves, without a BigInt per receive.
    const ctlLen = this.#mv.getUint32(MSG_CONTROLLEN, true);
    for (let off = 0; off + CMSG_HDR_BYTES <= ctlLen;) {
      const cl = this.#cv.getUint32(off + CMSG_LEN, true);
      if (cl < CMSG_HDR_BYTES) break;
      if (
        this.#cv.getInt32(off + CMSG_LEVEL, true) === SOL_UDP &&
        this.#cv.getInt32(off + CMSG_TYPE, true) === UDP_GRO
      ) {
        this.segment = this.#cv.getInt32(off + CMSG_DATA, true);
      }
      off += (cl + 7) & ~7;
    }
    return len;
  }
}

/** Plain recvfrom, for kernels without UDP GRO: one datagram, its sender into `sa`. */
export class UdpReceiver {
  #saLen = new Uint32Array([SOCKADDR_MAX_BYTES]);
  #saLenBuf = new Uint8Array(this.#saLen.buffer);
  #recvfrom = libc().recvfrom;
  readonly segment = 0;

  constructor(
    private readonly fd: number,
    private readonly buf: Uint8Array,
    private readonly sa: Uint8Array,
  ) {}

  receive(): number {
    this.#saLen[0] = SOCKADDR_MAX_BYTES;
    return this.#recvfrom(
      this.fd,
      this.buf,
      this.buf.length,
      0,
      this.sa,
      this.#saLenBuf,
    );
  }
}
