/**
 * Attaching to a persistent TAP device (linux/if_tun.h), with a virtio-net header on every frame
 * and checksum/TSO offload, so the kernel hands the sleeve 64 KB TCP super-frames.
 *
 * @module
 */

import { cstr, errnoText, libc, O_CLOEXEC, O_NONBLOCK, O_RDWR } from "./libc.ts";

const TUNSETIFF = 0x400454can;
const TUNSETOFFLOAD = 0x400454d0n;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_VNET_HDR = 0x4000;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
/** struct ifreq: 16 bytes of name, then the union (ifr_flags: a short at offset 16). */
const IFREQ_BYTES = 40;
const IFREQ_FLAGS_OFFSET = 16;

/** Attaches to the persistent TAP `name` (created by the reconciler); returns its fd. */
export function openTap(name: string): number {
  if (!/^[A-Za-z0-9._-]{1,15}$/.test(name)) throw new Error(`bad interface name ${name}`);
  const c = libc();
  const fd = c.open(cstr("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw new Error(`open /dev/net/tun: ${errnoText()}`);
  const ifr = new Uint8Array(IFREQ_BYTES);
  ifr.set(new TextEncoder().encode(name));
  // IFF_VNET_HDR: every frame carries a virtio-net header, so received TCP segments can be
  // written back as one GSO super-frame (see coalesce.ts).
  new DataView(ifr.buffer).setUint16(
    IFREQ_FLAGS_OFFSET,
    IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR,
    true,
  );
  if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const e = errnoText();
    c.close(fd);
    throw new Error(`attach to TAP ${name}: ${e}`);
  }
  // We are the "NIC": the kernel may hand us unfinished checksums and 64 KB TCP super-frames,
  // which the sleeve completes and segments (segment.ts). Far fewer reads and stack passes.
  // Without it (old kernels) frames simply arrive ready-made.
  c.ioctl_int(fd, TUNSETOFFLOAD, BigInt(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
  return fd;
}
