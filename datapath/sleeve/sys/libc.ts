/**
 * The C library through Deno FFI, opened on first use (never at import: `weave-agent --version`,
 * `check` and config parsing load no native library). Every call is synchronous: on the packet
 * path a nonblocking FFI call costs ~30 µs, a synchronous one well under 2 µs.
 *
 * The calls are grouped by concern in the files beside this one: tap.ts (TAP devices), udp.ts
 * (the UDP socket, GSO/GRO), poll.ts (poll and the pollfd layout), sched.ts (the calling
 * thread's scheduling policy).
 *
 * @module
 */

// read/write/sendto/recvfrom return ssize_t, declared i32: our buffers are far below 2 GiB and
// -1 survives truncation, while an isize result would be a BigInt on every packet.
const SYMBOLS = {
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
  sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Buf = Uint8Array;

/**
 * The libc calls the sleeve makes. As Deno declares them, `usize` parameters take a BigInt,
 * though a JS number (all our lengths are far below 2^53) is accepted and converted: typed here
 * as numbers so no call site casts and no packet pays for a BigInt.
 */
export interface Libc {
  open(path: Buf, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, request: bigint, arg: Buf): number;
  ioctl_int(fd: number, request: bigint, arg: bigint): number;
  read(fd: number, buf: Buf, len: number): number;
  write(fd: number, buf: Buf, len: number): number;
  poll(fds: Buf, count: bigint, timeoutMs: number): number;
  eventfd(initial: number, flags: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buf, addrLen: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buf, len: number): number;
  sendto(fd: number, buf: Buf, len: number, flags: number, addr: Buf, addrLen: number): number;
  recvfrom(fd: number, buf: Buf, len: number, flags: number, addr: Buf, addrLen: Buf): number;
  sendmsg(fd: number, msg: Buf, flags: number): number;
  recvmsg(fd: number, msg: Buf, flags: number): number;
  sched_setscheduler(pid: number, policy: number, param: Buf): number;
  __errno_location(): Deno.PointerValue;
  strerror(e: number): Deno.PointerValue;
}

let symbols: Libc | null = null;

/**
 * The C library's symbols, opened on the first call. On the packet path take them once
 * (`const c = libc()`) and call `c.read(...)`: the lookup is not free per packet.
 */
export function libc(): Libc {
  // The one cast: Deno's declared symbol types, narrowed to what the calls pass (see Libc).
  return symbols ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols as unknown as Libc;
}

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;

/** The calling thread's errno. */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** strerror(errno) as text. */
export function errnoText(e = errno()): string {
  const p = libc().strerror(e);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${e}`;
}

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** The address of a buffer, as the 64-bit integer that goes into C structs (msghdr, iovec). */
export function pointerValue(b: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
}

/** Closes a descriptor (errors ignored: nothing useful to do about them at close). */
export function closeFd(fd: number): void {
  libc().close(fd);
}
