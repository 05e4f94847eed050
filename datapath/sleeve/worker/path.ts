/**
 * What both directions of the packet path share: the libc symbols, the UDP socket, the
 * counters, the peer table, and what to do when handling a packet throws.
 *
 * @module
 */

import type { Libc } from "../sys/libc.ts";
import { counterIndex, G, GLOBAL_SLOT } from "../counters.ts";
import type { PeerTable } from "./peer_table.ts";
import type { WorkerReply } from "./messages.ts";
import { FAULTS_PRINTED } from "./constants.ts";

export interface PathContext {
  readonly c: Libc;
  readonly udpFd: number;
  readonly counters: Float64Array;
  readonly peers: PeerTable;
  /** Posts to the main thread (session events: rare, never per packet). */
  readonly tell: (r: WorkerReply) => void;
}

/** Adds `n` to field `field` of slot `slot` (a peer's, or GLOBAL_SLOT). */
export function count(ctx: PathContext, slot: number, field: number, n = 1): void {
  ctx.counters[counterIndex(slot, field)] += n;
}

/** Adds one to a global counter. */
export function countGlobal(ctx: PathContext, field: number): void {
  ctx.counters[counterIndex(GLOBAL_SLOT, field)]++;
}

/**
 * A bug met by one packet costs that packet, never the datapath of every peer: counted, the
 * first few printed (they end up in the agent's log).
 */
export function fault(ctx: PathContext, e: unknown): void {
  if (ctx.counters[counterIndex(GLOBAL_SLOT, G.internalErrors)]++ < FAULTS_PRINTED) {
    console.error(`sleeve packet worker: dropped a packet after an internal error: ${e}`);
  }
}
