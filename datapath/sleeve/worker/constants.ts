/**
 * The packet worker's numbers, in two groups (as wireguard-go's `device/constants.go` keeps
 * them): what the specifications and the kernel fix, which no tuning may change, and what this
 * implementation chose, with the reason beside each.
 *
 * Wire-format sizes live in ../wire.ts, the virtio-net header in ../virtio_net.ts, and the C
 * structs' layouts in ../sys/: here only what the loop itself needs.
 *
 * @module
 */

import { ETHERNET_HEADER_BYTES } from "../../mtu.ts";

// ---- Specification constants ----

/** Largest frame a TAP read can return: a 64 KB IPv4/IPv6 TSO super-frame (IP length field). */
export const MAX_FRAME_BYTES = 65535;
/** Ethernet header: destination MAC, source MAC, EtherType. */
export { ETHERNET_HEADER_BYTES };
/** Where the source MAC starts in an Ethernet frame (after the destination's six bytes). */
export const ETHERNET_SOURCE_MAC = 6;
/** The group (broadcast/multicast) bit: lowest bit of a MAC's first byte. */
export const MAC_GROUP_BIT = 1;
/** An IEEE 802.1Q tag between the MACs and the EtherType. */
export const VLAN_TAG_BYTES = 4;
/**
 * How far a frame may exceed the network's MTU: the MTU counts the IP packet; the frame adds
 * its Ethernet header and possibly one VLAN tag (`mtu + 18`).
 */
export const FRAME_OVER_MTU_BYTES = ETHERNET_HEADER_BYTES + VLAN_TAG_BYTES;
/**
 * One UDP GSO send must stay below 64 KB in total (the kernel refuses more); this leaves room
 * for the IP and UDP headers it adds.
 */
export const GSO_SEND_MAX_BYTES = 65000;
/** Most datagrams one UDP GSO send may carry (UDP_MAX_SEGMENTS of the first kernels with it). */
export const GSO_MAX_SEGMENTS = 64;

// ---- Implementation constants ----

/**
 * Receives (each may be a GRO run of many datagrams) and TAP reads per loop turn and
 * descriptor: large enough to amortise poll, small enough that the other direction and the
 * other TAPs are served within one turn.
 */
export const RECEIVES_PER_TURN = 64;
export const TAP_READS_PER_TURN = 64;
/** MACs learned per network (oldest forgotten first): bounds memory under a MAC flood. */
export const MAX_MACS_PER_NETWORK = 8192;
/**
 * poll() timeout. Packets and messages both wake the poll (the doorbell is in the set), so this
 * only bounds how late a lost wake-up would be noticed; nothing periodic hangs on it.
 */
export const POLL_TIMEOUT_MS = 1000;
/**
 * Event-loop turns the worker spends delivering queued messages before it returns to packets;
 * past them it sleeps {@link CATCH_UP_SLEEP_MS} (a message still in flight from the main thread).
 */
export const CATCH_UP_TURNS = 1000;
export const CATCH_UP_SLEEP_MS = 1;
/** Internal errors printed (to the agent's log) before the rest are only counted. */
export const FAULTS_PRINTED = 5;
