/**
 * The few libc calls the sleeve needs, through Deno FFI. Every call is synchronous: on the
 * packet path a nonblocking FFI call costs ~30 µs, a synchronous one well under 2 µs.
 *
 * @module
 */

// read/write/sendto/recvfrom return ssize_t, declared i32: our buffers are far below 2 GiB and
// -1 survives truncation, while an isize result would be a BigInt on every packet.
const LIBC = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
});

export const libc = LIBC.symbols;

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const TUNSETIFF = 0x400454can;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_VNET_HDR = 0x4000;
export const TUNSETOFFLOAD = 0x400454d0n;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const POLLIN = 1;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
export const EAGAIN = 11;
export const EINTR = 4;

/** The calling thread's errno. */
export function errno(): number {
  const p = libc.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** strerror(errno) as text. */
export function errnoText(e = errno()): string {
  const p = libc.strerror(e);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${e}`;
}

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** Attaches to the persistent TAP `name` (created by the reconciler); returns its fd. */
export function openTap(name: string): number {
  if (!/^[A-Za-z0-9._-]{1,15}$/.test(name)) throw new Error(`bad interface name ${name}`);
  const fd = libc.open(cstr("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw new Error(`open /dev/net/tun: ${errnoText()}`);
  const ifr = new Uint8Array(40);
  ifr.set(new TextEncoder().encode(name));
  // IFF_VNET_HDR: every frame carries a virtio-net header, so received TCP segments can be
  // written back as one GSO super-frame (see coalesce.ts).
  new DataView(ifr.buffer).setUint16(
    16,
    IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR,
    true,
  );
  if (libc.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const e = errnoText();
    libc.close(fd);
    throw new Error(`attach to TAP ${name}: ${e}`);
  }
  // We are the "NIC": the kernel may hand us unfinished checksums and 64 KB TCP super-frames,
  // which the sleeve completes and segments (segment.ts). Far fewer reads and stack passes.
  // Without it (old kernels) frames simply arrive ready-made.
  libc.ioctl_int(fd, TUNSETOFFLOAD, BigInt(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
  return fd;
}

/** Encodes a socket address (IPv4 or IPv6). */
export function sockaddr(address: string, port: number): Uint8Array {
  if (address.includes(":")) {
    const b = new Uint8Array(28);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET6, true);
    v.setUint16(2, port);
    b.set(ipv6Bytes(address), 8);
    return b;
  }
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port);
  b.set(address.split(".").map(Number), 4);
  return b;
}

function ipv6Bytes(a: string): Uint8Array {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, ""];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** Key for a peer's source address, as decoded from a sockaddr (cheap, no allocation of text for v4). */
export function sockaddrKey(sa: Uint8Array): string {
  const v = new DataView(sa.buffer, sa.byteOffset);
  const fam = v.getUint16(0, true);
  if (fam === AF_INET) return `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${v.getUint16(2)}`;
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) parts.push(v.getUint16(8 + i * 2).toString(16));
  return `${normaliseV6(parts.join(":"))}:${v.getUint16(2)}`;
}

/** Canonical text of an IPv6 address (for matching config addresses). */
export function normaliseV6(a: string): string {
  const b = ipv6Bytes(a);
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) parts.push(((b[i * 2] << 8) | b[i * 2 + 1]).toString(16));
  return parts.join(":");
}

/** A nonblocking UDP socket bound to address:port; returns its fd. */
export function openUdp(address: string, port: number): number {
  const fam = address.includes(":") ? AF_INET6 : AF_INET;
  const fd = libc.socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: ${errnoText()}`);
  const size = new Int32Array([8 << 20]);
  const bytes = new Uint8Array(size.buffer);
  // FORCE variants need CAP_NET_ADMIN (which we have); fall back to the plain ones.
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes, 4) < 0) {
    libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, bytes, 4);
  }
  if (libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes, 4) < 0) {
    libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, bytes, 4);
  }
  const sa = sockaddr(address, port);
  if (libc.bind(fd, sa, sa.length) < 0) {
    const e = errnoText();
    libc.close(fd);
    throw new Error(`bind UDP ${address}:${port}: ${e}`);
  }
  return fd;
}

/**
 * One sendmsg with UDP_SEGMENT: the kernel cuts `buf[0:len]` into datagrams of `segment` bytes
 * (the last may be shorter) and sends them as one pass through the stack (UDP GSO).
 */
export class UdpGsoSender {
  #msg = new Uint8Array(56);
  #iov = new Uint8Array(16);
  #ctl = new Uint8Array(24);
  #mv = new DataView(this.#msg.buffer);
  #iv = new DataView(this.#iov.buffer);
  #cv = new DataView(this.#ctl.buffer);

  constructor(private readonly fd: number, private readonly buf: Uint8Array) {
    const ptr = (b: Uint8Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
    this.#iv.setBigUint64(0, ptr(buf), true);
    this.#mv.setBigUint64(16, ptr(this.#iov), true);
    this.#mv.setBigUint64(24, 1n, true);
    this.#mv.setBigUint64(32, ptr(this.#ctl), true);
    this.#mv.setBigUint64(40, 24n, true);
    this.#cv.setBigUint64(0, 18n, true); // CMSG_LEN(sizeof(u16))
    this.#cv.setInt32(8, SOL_UDP, true);
    this.#cv.setInt32(12, UDP_SEGMENT, true);
  }

  /** Sends `len` bytes of the buffer to `sa` in datagrams of `segment` bytes; <0 on error. */
  send(sa: Uint8Array, len: number, segment: number): number {
    this.#mv.setBigUint64(0, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(sa))), true);
    this.#mv.setUint32(8, sa.length, true);
    this.#iv.setBigUint64(8, BigInt(len), true);
    this.#cv.setUint16(16, segment, true);
    return libc.sendmsg(this.fd, this.#msg, 0);
  }
}

/** recvmsg with UDP_GRO: one call returns a run of same-sized datagrams and their size. */
export class UdpGroReceiver {
  #msg = new Uint8Array(56);
  #iov = new Uint8Array(16);
  #ctl = new Uint8Array(64);
  #mv = new DataView(this.#msg.buffer);
  #cv = new DataView(this.#ctl.buffer);

  private constructor(
    private readonly fd: number,
    buf: Uint8Array,
    private readonly sa: Uint8Array,
  ) {
    const ptr = (b: Uint8Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
    const iv = new DataView(this.#iov.buffer);
    iv.setBigUint64(0, ptr(buf), true);
    iv.setBigUint64(8, BigInt(buf.length), true);
    this.#mv.setBigUint64(0, ptr(sa), true);
    this.#mv.setBigUint64(16, ptr(this.#iov), true);
    this.#mv.setBigUint64(24, 1n, true);
    this.#mv.setBigUint64(32, ptr(this.#ctl), true);
  }

  /** Turns UDP_GRO on for `fd`; null when the kernel does not have it (plain recvfrom then). */
  static enable(fd: number, buf: Uint8Array, sa: Uint8Array): UdpGroReceiver | null {
    const one = new Uint8Array(new Int32Array([1]).buffer);
    if (libc.setsockopt(fd, SOL_UDP, UDP_GRO, one, 4) < 0) return null;
    return new UdpGroReceiver(fd, buf, sa);
  }

  /** Receives into the buffer; `segment` is the datagram size (0: a single datagram). */
  receive(): { len: number; segment: number } {
    this.#mv.setUint32(8, this.sa.length, true);
    this.#mv.setBigUint64(40, BigInt(this.#ctl.length), true);
    const len = libc.recvmsg(this.fd, this.#msg, 0);
    if (len < 0) return { len, segment: 0 };
    let segment = 0;
    const ctlLen = Number(this.#mv.getBigUint64(40, true));
    for (let off = 0; off + 16 <= ctlLen;) {
      const cl = Number(this.#cv.getBigUint64(off, true));
      if (cl < 16) break;
      if (
        this.#cv.getInt32(off + 8, true) === SOL_UDP &&
        this.#cv.getInt32(off + 12, true) === UDP_GRO
      ) {
        segment = this.#cv.getInt32(off + 16, true);
      }
      off += (cl + 7) & ~7;
    }
    return { len, segment };
  }
}
