/**
 * Overlay MTU arithmetic. Every byte of encapsulation is counted, so that an overlay frame of
 * the resulting MTU never needs fragmenting on the underlay. All members of a network compute
 * the same figure from the same config, whatever datapath each pair ends up on.
 *
 * A leaf for config/: it imports only the sleeve's wire format (itself a leaf, no FFI).
 *
 * @module
 */

import { HEADER_BYTES, RELAY_HEADER_BYTES, TAG_BYTES } from "./sleeve/wire.ts";

/** Bytes of an IP header on the underlay (no options / no extension headers). */
export function ipHeaderBytes(family: 4 | 6): number {
  return family === 4 ? 20 : 40;
}

export const UDP_HEADER_BYTES = 8;
export const ETHERNET_HEADER_BYTES = 14;
export const VXLAN_HEADER_BYTES = 8;

/** Sleeve datagram header (type, VNI, receiver index, sequence number), authenticated as AAD. */
export const SLEEVE_HEADER_BYTES = HEADER_BYTES;
/** AEAD tag on each sleeve datagram. */
export const SLEEVE_TAG_BYTES = TAG_BYTES;
/** The relay header in front of a datagram a relay carries (#16: destination and source ids). */
export const SLEEVE_RELAY_HEADER_BYTES = RELAY_HEADER_BYTES;

/** ESP with rfc4106(gcm(aes)): SPI + sequence number, explicit IV, ICV. */
export const ESP_HEADER_BYTES = 8;
export const ESP_IV_BYTES = 8;
export const ESP_ICV_BYTES = 16;
/** ESP trailer: pad length + next header. */
export const ESP_TRAILER_BYTES = 2;

/** Largest overlay MTU that fits plain VXLAN into the underlay MTU. */
export function vxlanMtu(underlayMtu: number, family: 4 | 6): number {
  return underlayMtu - ipHeaderBytes(family) - UDP_HEADER_BYTES - VXLAN_HEADER_BYTES -
    ETHERNET_HEADER_BYTES;
}

/**
 * Largest overlay MTU for VXLAN inside ESP transport mode. The ESP payload (the UDP datagram
 * carrying VXLAN, plus the 2-byte trailer) is padded to a multiple of 4, so the answer is the
 * largest M whose padded payload still fits.
 */
export function vxlanEspMtu(underlayMtu: number, family: 4 | 6): number {
  const room = underlayMtu - ipHeaderBytes(family) - ESP_HEADER_BYTES - ESP_IV_BYTES -
    ESP_ICV_BYTES;
  // ESP payload = UDP + VXLAN + Ethernet + M + trailer, rounded up to 4, must be <= room.
  const fixed = UDP_HEADER_BYTES + VXLAN_HEADER_BYTES + ETHERNET_HEADER_BYTES + ESP_TRAILER_BYTES;
  const maxPadded = room - (room % 4);
  return maxPadded - fixed;
}

/**
 * Largest overlay MTU for the sleeve: one Ethernet frame per sealed UDP datagram, with room for
 * a relay header. Any pair may come to be relayed at run time (#16: its underlay path blocked)
 * and a network's MTU must not change when that happens, so the room is always kept.
 */
export function sleeveMtu(underlayMtu: number, family: 4 | 6): number {
  return underlayMtu - ipHeaderBytes(family) - UDP_HEADER_BYTES - SLEEVE_RELAY_HEADER_BYTES -
    SLEEVE_HEADER_BYTES - SLEEVE_TAG_BYTES - ETHERNET_HEADER_BYTES;
}

/**
 * The one MTU a network uses on every member: the smallest of the datapaths any pair of its
 * members may use, so a pair falling back from fast datapath to sleeve never changes it.
 */
export function networkMtu(opts: {
  underlayMtu: number;
  family: 4 | 6;
  encrypted: boolean;
  datapath: "auto" | "fastdp" | "sleeve";
}): number {
  const candidates: number[] = [];
  if (opts.datapath !== "fastdp") candidates.push(sleeveMtu(opts.underlayMtu, opts.family));
  if (opts.datapath !== "sleeve") {
    candidates.push(
      opts.encrypted
        ? vxlanEspMtu(opts.underlayMtu, opts.family)
        : vxlanMtu(opts.underlayMtu, opts.family),
    );
  }
  return Math.min(...candidates);
}
