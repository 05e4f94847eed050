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

/**
 * AES-GCM's bound on data sealed under one key: RFC 8446 section 5.5 allows 2^24.5 full-size
 * (2^14-byte) records per key for an authenticated-encryption advantage of about 2^-57, that is
 * 2^38.5 bytes; this stays below it. ChaCha20-Poly1305 has no such bound short of its nonces.
 */
export const AES_GCM_REJECT_AFTER_BYTES = 2 ** 38;

// ---- Implementation constants ----

/**
 * Per key: past REKEY_AFTER the main thread is told a rekey is due; past REJECT_AFTER nothing
 * more is sealed under it. Packet limits far below the 2^53 sequence numbers a sender may use
 * (wire.ts MAX_SEQ), so no nonce can ever repeat; the byte limit for AES-GCM leaves a quarter of
 * its budget for the rekey to finish (at 10 Gbit/s: over 2 minutes).
 */
export const REKEY_AFTER_PACKETS = 2 ** 48;
export const REJECT_AFTER_PACKETS = 2 ** 52;
export const AES_GCM_REKEY_AFTER_BYTES = 2 ** 37 + 2 ** 36;
/**
 * Sessions accepted per peer at once: the previous (datagrams still in flight), the current,
 * and the next (installed before the sender moves).
 */
export const MAX_SESSIONS_PER_PEER = 3;
/** Fingerprints of retired keys remembered, so they are refused if they ever come back. */
export const RETIRED_KEYS_REMEMBERED = 4096;

/**
 * Receives (each may be a GRO run of many datagrams) and TAP reads per loop turn and
 * descriptor: large enough to amortise poll, small enough that the other direction and the
 * other TAPs are served within one turn.
 */
export const RECEIVES_PER_TURN = 64;
export const TAP_READS_PER_TURN = 64;
/**
 * Bytes one direction may move per loop turn before the other direction (and the other TAPs)
 * get their turn: what bounds the wait of a ping (or a TCP ACK) behind a bulk transfer going
 * the other way through the same worker. Two 64 KB super-frames: at 2–3 Gbit/s about 0.4 ms.
 * (64 reads of 64 KB super-frames per turn let a reply wait behind 4 MB: 10–50 ms.)
 */
export const TURN_BYTES = 128 << 10;
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
