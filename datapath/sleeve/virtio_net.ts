/**
 * The virtio-net header (virtio specification 1.2, section 5.1.6 "struct virtio_net_hdr", the
 * legacy 10-byte form without `num_buffers`) that a TAP opened with IFF_VNET_HDR puts before
 * every frame it hands out and expects before every frame written to it. Little-endian fields:
 *
 *   u8 flags | u8 gso_type | u16 hdr_len | u16 gso_size | u16 csum_start | u16 csum_offset
 *
 * Specification constants only; a leaf module (no imports).
 *
 * @module
 */

/** Size of the header before every frame. */
export const VNET_HDR_BYTES = 10;

/** Byte offsets of the fields. */
export const VNET_FLAGS = 0;
export const VNET_GSO_TYPE = 1;
export const VNET_HDR_LEN = 2;
export const VNET_GSO_SIZE = 4;
export const VNET_CSUM_START = 6;
export const VNET_CSUM_OFFSET = 8;

/** `flags`: the checksum at csum_start + csum_offset is partial (holds the pseudo-header sum). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

/** `gso_type` values. */
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
/** Flag bit on gso_type: the segments carry ECN (CWR only on the first). */
export const GSO_ECN = 0x80;

/** Where the TCP checksum field sits inside the TCP header (csum_offset for TCP). */
export const TCP_CHECKSUM_OFFSET = 16;

/** Reads a little-endian u16 field of the header at `at` in `b`. */
export function vnetU16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}
