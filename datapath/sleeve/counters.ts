/**
 * Sleeve counters in a SharedArrayBuffer: the workers write (each field has one writer), the
 * main thread reads without messaging.
 *
 * @module
 */

export const MAX_PEERS = 1024;
export const FIELDS = 16;
export const GLOBAL_SLOT = MAX_PEERS;

/** Per-peer fields. */
export const F = {
  txPackets: 0,
  txBytes: 1,
  rxPackets: 2,
  rxBytes: 3,
  auth: 4,
  replay: 5,
  unknownNetwork: 6,
  oversize: 7,
  truncated: 8,
  notMember: 9,
  noSession: 10,
  txErrors: 11,
  /** Authentic, but not what its type says (a partial checksum on something that is not TCP). */
  malformed: 12,
} as const;

/** Global fields (slot GLOBAL_SLOT). */
export const G = {
  unknownPeer: 0,
  truncated: 1,
  badType: 2,
  oversize: 3,
  txErrors: 4,
  /** Packets dropped because handling them threw (a bug): the loop goes on. */
  internalErrors: 5,
} as const;

export function newCounters(): SharedArrayBuffer {
  return new SharedArrayBuffer((MAX_PEERS + 1) * FIELDS * 8);
}

/** Counters of one peer, as status shows them. */
export interface PeerCounters {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  drops: {
    auth: number;
    replay: number;
    unknownNetwork: number;
    oversize: number;
    truncated: number;
    notMember: number;
    noSession: number;
    malformed: number;
  };
  txErrors: number;
}

export interface GlobalCounters {
  unknownPeer: number;
  truncated: number;
  badType: number;
  oversize: number;
  txErrors: number;
  internalErrors: number;
}

export function readPeer(view: Float64Array, slot: number): PeerCounters {
  const b = slot * FIELDS;
  return {
    txPackets: view[b + F.txPackets],
    txBytes: view[b + F.txBytes],
    rxPackets: view[b + F.rxPackets],
    rxBytes: view[b + F.rxBytes],
    drops: {
      auth: view[b + F.auth],
      replay: view[b + F.replay],
      unknownNetwork: view[b + F.unknownNetwork],
      oversize: view[b + F.oversize],
      truncated: view[b + F.truncated],
      notMember: view[b + F.notMember],
      noSession: view[b + F.noSession],
      malformed: view[b + F.malformed],
    },
    txErrors: view[b + F.txErrors],
  };
}

export function readGlobal(view: Float64Array): GlobalCounters {
  const b = GLOBAL_SLOT * FIELDS;
  return {
    unknownPeer: view[b + G.unknownPeer],
    truncated: view[b + G.truncated],
    badType: view[b + G.badType],
    oversize: view[b + G.oversize],
    txErrors: view[b + G.txErrors],
    internalErrors: view[b + G.internalErrors],
  };
}
