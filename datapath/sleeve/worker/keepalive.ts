/**
 * Keepalives (#15): a NAT forgets a UDP mapping that carries nothing for a while (30 s and less
 * on many home routers and carrier NATs), and then the peer on the public side can no longer
 * reach the box behind it. So for pairs the main thread marks (`keepaliveMs` > 0: one end is
 * dial-out only, or the endpoint was learned elsewhere than configured), the worker sends a
 * keepalive after `keepaliveMs` without sending anything to the peer; pairs with traffic, and
 * pairs that need none, cost nothing.
 *
 * A keepalive is a sleeve datagram of type TYPE_KEEPALIVE with no frame: sealed and sequenced
 * under the session sent under, like data, so the receiver authenticates it and may learn the
 * sender's endpoint from it (rx.ts), and nobody else can make one. The first under each new
 * session goes out at once (traffic or not): that is how the public end learns the NAT's
 * mapping before any traffic, and again after a box moved and its session was re-made.
 *
 * Per tick (the loop's poll wakes at least every second): one pass over the peers, reading each
 * one's `txPackets` counter to tell whether anything was sent since the last tick.
 *
 * @module
 */

import {
  HEADER_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  TYPE_KEEPALIVE,
  writeHeader,
  writeNonce,
} from "../wire.ts";
import { counterIndex, F } from "../counters.ts";
import { count, type PathContext } from "./path.ts";
import type { PeerRuntime } from "./peer_table.ts";
import { admitSend, SEND_REFUSED } from "./sessions.ts";

/** How often the peers are looked at (the smallest keepalive period is 1 s). */
export const KEEPALIVE_TICK_MS = 500;

/** What is remembered per peer slot between ticks. */
interface Seen {
  /** `txPackets` + `keepalivesOut` at the last tick. */
  sent: number;
  /** When something was last sent to the peer. */
  at: number;
  /** The local index of the session the last keepalive went under (-1: none yet). */
  session: number;
}

export class Keepalives {
  readonly #seen = new Map<number, Seen>();
  readonly #hdr = new Uint8Array(HEADER_BYTES);
  readonly #nonce = new Uint8Array(NONCE_BYTES);
  readonly #out = new Uint8Array(HEADER_BYTES + TAG_BYTES);
  readonly #empty = new Uint8Array(0);
  #lastTick = -Infinity;

  constructor(private readonly ctx: PathContext) {}

  /** Sends the keepalives due at `now` (ms, monotonic). */
  tick(now: number): void {
    if (now - this.#lastTick < KEEPALIVE_TICK_MS) return;
    this.#lastTick = now;
    const ctx = this.ctx;
    for (const slot of this.#seen.keys()) if (!ctx.peers.bySlot.has(slot)) this.#seen.delete(slot);
    for (const rt of ctx.peers.bySlot.values()) {
      const slot = rt.p.slot;
      const sent = ctx.counters[counterIndex(slot, F.txPackets)] +
        ctx.counters[counterIndex(slot, F.keepalivesOut)];
      let seen = this.#seen.get(slot);
      if (!seen) this.#seen.set(slot, seen = { sent, at: now, session: -1 });
      else if (sent !== seen.sent) {
        seen.sent = sent;
        seen.at = now;
      }
      const period = rt.p.keepaliveMs;
      const sending = rt.sessions.sending;
      if (!(period > 0) || !rt.p.active || !sending) continue;
      if (seen.session === sending.localIndex && now - seen.at < period) continue;
      if (this.#send(slot, rt)) {
        seen.sent++;
        seen.at = now;
        seen.session = sending.localIndex;
      }
    }
  }

  /**
   * A hole-punching probe (#16): one keepalive to `sa`, a candidate endpoint of relayed `rt`
   * (where its datagrams go does not change: only an authentic answer from there moves it).
   */
  punch(rt: PeerRuntime, sa: Uint8Array): boolean {
    if (!rt.sessions.sending) return false;
    const sent = this.#send(rt.p.slot, rt, sa);
    if (sent) count(this.ctx, rt.p.slot, F.punchesOut);
    return sent;
  }

  /** One keepalive to `rt` (at `sa`) under its sending session; false when none went out. */
  #send(slot: number, rt: PeerRuntime, sa: Uint8Array = rt.sa): boolean {
    const s = rt.sessions.sending!;
    const ctx = this.ctx;
    const verdict = admitSend(s, 0);
    // A spent key sends nothing (tx.ts tells the main thread); a rekey-due one still may.
    if (verdict === SEND_REFUSED) return false;
    writeHeader(this.#hdr, 0, s.remoteIndex, s.txSeq, TYPE_KEEPALIVE);
    writeNonce(this.#nonce, s.txDirection, s.txSeq);
    this.#out.set(this.#hdr, 0);
    const n = HEADER_BYTES +
      s.txAead.seal(this.#nonce, this.#hdr, this.#empty, this.#out.subarray(HEADER_BYTES), 0);
    if (sa.length === 0 || ctx.c.sendto(ctx.udpFd, this.#out, n, 0, sa, sa.length) < 0) {
      count(ctx, slot, F.txErrors);
      return false;
    }
    count(ctx, slot, F.keepalivesOut);
    return true;
  }
}
