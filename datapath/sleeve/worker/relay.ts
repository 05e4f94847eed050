/**
 * Relayed datagrams (#16), in the order one meets the steps on a box that receives it:
 *
 *  1. rx.ts sees type 3 (TYPE_RELAY) from a known peer (the neighbour that sent it) and hands
 *     it here, relay header and all;
 *  2. too short for a relay header and a sleeve datagram: dropped, counted as truncated;
 *  3. destined for this box: the source id names the peer whose sessions open the inner
 *     datagram; rx.ts takes it from there as if it had come straight from that peer (a relay
 *     header inside is refused: relays never nest);
 *  4. destined for another box: forwarded only when this box relays (`relay:` in weave.yaml),
 *     may relay for both ends (their `relays:` lists), knows both, is not sending it back where
 *     it came from, knows where the destination is, and hops are left; unchanged but for one
 *     hop less, to the destination (its endpoint, or its relay's when this box reaches it
 *     through one); counted.
 *
 * The relay holds no keys of the pair and opens nothing: it learns sizes and timing. Nothing
 * here runs for a datagram that is not relayed.
 *
 * @module
 */

import {
  HEADER_BYTES,
  RELAY_HEADER_BYTES,
  relayDestination,
  relayHops,
  relaySource,
  TAG_BYTES,
} from "../wire.ts";
import { G, GLOBAL_SLOT } from "../counters.ts";
import type { PeerRuntime } from "./peer_table.ts";
import { count, countGlobal, type PathContext } from "./path.ts";

/** What a relayed datagram is to this box. */
export type RelayVerdict =
  /** Opened by rx.ts as the source peer's, at `at + RELAY_HEADER_BYTES`. */
  | PeerRuntime
  /** Forwarded or dropped here (counted). */
  | null;

/** The smallest relayed datagram: relay header, sleeve header, tag. */
export const MIN_RELAYED_BYTES = RELAY_HEADER_BYTES + HEADER_BYTES + TAG_BYTES;

/** Forwarding state of one box: whether it relays at all (its relay id is the peer table's). */
export class Relay {
  /** `relay: false` boxes refuse to forward anything. */
  forward = false;

  constructor(private readonly ctx: PathContext) {}

  /**
   * 2–4. One relayed datagram `buf[at:at+r]` from neighbour `from`. Returns the source peer when
   * it is for this box, else null (forwarded or dropped, counted).
   */
  handle(from: PeerRuntime, buf: Uint8Array, at: number, r: number): RelayVerdict {
    const ctx = this.ctx;
    if (r < MIN_RELAYED_BYTES) {
      countGlobal(ctx, G.truncated);
      return null;
    }
    const peers = ctx.peers;
    const dst = relayDestination(buf, at);
    const src = peers.fromId(relaySource(buf, at));
    if (dst === peers.selfId) {
      if (!src) countGlobal(ctx, G.unknownPeer);
      return src ?? null;
    }
    const to = peers.fromId(dst);
    const hops = relayHops(buf, at);
    if (
      !this.forward || !src || !to || !src.p.relayFor || !to.p.relayFor || to === from ||
      hops === 0
    ) {
      countGlobal(ctx, G.relayRefused);
      return null;
    }
    const sa = to.relaySa ?? to.sa;
    if (sa.length === 0) {
      countGlobal(ctx, G.relayRefused);
      return null;
    }
    buf[at + 1] = hops - 1;
    const out = at === 0 ? buf : buf.subarray(at);
    if (ctx.c.sendto(ctx.udpFd, out, r, 0, sa, sa.length) < 0) {
      countGlobal(ctx, G.txErrors);
      return null;
    }
    countGlobal(ctx, G.relayedPackets);
    count(ctx, GLOBAL_SLOT, G.relayedBytes, r);
    return null;
  }
}
