/**
 * Sleeve counters in a SharedArrayBuffer: the packet worker writes (each field has one writer),
 * the main thread reads without messaging. Each field is named once, in the lists below; the
 * indices the worker writes, the types status shows and the readers all derive from them.
 *
 * @module
 */

/** Peers the counter block has room for (slot numbers 0 .. MAX_PEERS - 1). */
export const MAX_PEERS = 1024;
/** Numbers per slot (room to grow: the lists below use fewer). */
export const FIELDS = 24;
/** The slot after the last peer's holds the counters that belong to no peer. */
export const GLOBAL_SLOT = MAX_PEERS;

/** Per-peer traffic, in the order status shows it. */
const PEER_TRAFFIC = [
  "txPackets",
  "txBytes",
  "rxPackets",
  "rxBytes",
  "txErrors",
  /** Frames not sent because the session's key reached its hard limit (a rekey is overdue). */
  "txRefused",
  /** Keepalives sent and received (#15: pairs across a NAT, while idle). */
  "keepalivesOut",
  "keepalivesIn",
  /** Datagrams of `rxPackets` that came through a relay (#16): the rest came straight. */
  "rxRelayed",
  /** Hole-punching probes sent straight to a candidate endpoint while relayed (#16). */
  "punchesOut",
] as const;
/** Per-peer drops of received datagrams. */
const PEER_DROPS = [
  "auth",
  "replay",
  "unknownNetwork",
  "oversize",
  "truncated",
  "notMember",
  "noSession",
  /** Authentic, but not what its type says (a partial checksum on something that is not TCP). */
  "malformed",
] as const;
/**
 * Counters of no peer: datagrams from unknown senders, and `internalErrors`, packets dropped
 * because handling them threw (a bug): the loop goes on; the relay's; the worker's priority.
 */
const GLOBAL_FIELDS = [
  "unknownPeer",
  "truncated",
  "badType",
  "oversize",
  "txErrors",
  "internalErrors",
  /** Datagrams of other pairs this box forwarded as their relay (#16), and their bytes. */
  "relayedPackets",
  "relayedBytes",
  /** Relayed datagrams refused: not a relay, a peer it may not relay for, no hops left. */
  "relayRefused",
  /**
   * 1 while the packet worker runs at realtime priority (worker/realtime_budget.ts), else 0; and
   * how often it left realtime for being busy past its budget (a flood, or a transfer it cannot
   * keep up with).
   */
  "realtime",
  "realtimeExits",
] as const;

type PeerTraffic = typeof PEER_TRAFFIC[number];
type PeerDrop = typeof PEER_DROPS[number];
type GlobalField = typeof GLOBAL_FIELDS[number];

/** Counters of one peer, as status shows them. */
export type PeerCounters = Record<PeerTraffic, number> & { drops: Record<PeerDrop, number> };
/** Counters that belong to no peer. */
export type GlobalCounters = Record<GlobalField, number>;

function indexOf<K extends string>(names: readonly K[]): Readonly<Record<K, number>> {
  const index = {} as Record<K, number>;
  names.forEach((n, i) => index[n] = i);
  return index;
}

/** Field index of each per-peer counter inside a slot. */
export const F = indexOf<PeerTraffic | PeerDrop>([...PEER_TRAFFIC, ...PEER_DROPS]);
/** Field index of each global counter inside {@link GLOBAL_SLOT}. */
export const G = indexOf<GlobalField>(GLOBAL_FIELDS);

if (PEER_TRAFFIC.length + PEER_DROPS.length > FIELDS || GLOBAL_FIELDS.length > FIELDS) {
  throw new Error("sleeve counters: more fields than FIELDS");
}

export function newCounters(): SharedArrayBuffer {
  return new SharedArrayBuffer((MAX_PEERS + 1) * FIELDS * Float64Array.BYTES_PER_ELEMENT);
}

/** Where slot `slot`'s field `field` lives in the Float64Array over the counters. */
export function counterIndex(slot: number, field: number): number {
  return slot * FIELDS + field;
}

function read<K extends string>(
  view: Float64Array,
  slot: number,
  names: readonly K[],
  index: Readonly<Record<K, number>>,
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const n of names) out[n] = view[counterIndex(slot, index[n])];
  return out;
}

export function readPeer(view: Float64Array, slot: number): PeerCounters {
  return { ...read(view, slot, PEER_TRAFFIC, F), drops: read(view, slot, PEER_DROPS, F) };
}

export function readGlobal(view: Float64Array): GlobalCounters {
  return read(view, GLOBAL_SLOT, GLOBAL_FIELDS, G);
}

/** Zeroes a slot, for whoever gets it next. */
export function clearPeer(view: Float64Array, slot: number): void {
  view.fill(0, counterIndex(slot, 0), counterIndex(slot + 1, 0));
}
