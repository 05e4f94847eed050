/**
 * Dialling configured peers: one timer per peer that is neither up nor being dialled, a TCP
 * connect from our listen address, then the handshake. A dial is put off once when the peer is
 * already connecting to us (its connection would only be our dial's twin); a failed dial is
 * retried after a backoff step (`dial_delay.ts`).
 *
 * @module
 */

import { type ControlContext, errorMessage } from "./context.ts";
import { backoffDelay } from "./dial_delay.ts";
import type { Admission } from "./admission.ts";
import { type PeerRecord, setState, stickyState } from "./peer_record.ts";
import { runConnection } from "./session_agreement.ts";
import { type ByteStream, dialTcp } from "./tcp_stream.ts";

/** Listen addresses that are no usable source address for a dial. */
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]"]);
/** Least time a dialled connection gets for its handshake after a slow connect. */
const MIN_HANDSHAKE_MS = 1000;

/** Schedules and runs the dials of one manager. */
export class Dialer {
  constructor(private readonly ctx: ControlContext, private readonly admission: Admission) {}

  /** Dials `rec` after `delayMs`, unless it is up, dialling or already scheduled. */
  schedule(rec: PeerRecord, delayMs: number): void {
    const ctx = this.ctx;
    if (ctx.closed() || rec.removed || rec.dialTimer || rec.session || rec.dialing) return;
    rec.dialTimer = setTimeout(() => {
      rec.dialTimer = null;
      ctx.track(this.#dial(rec));
    }, delayMs);
  }

  /** Stops the peer's pending dial, if any. */
  cancel(rec: PeerRecord): void {
    if (rec.dialTimer) clearTimeout(rec.dialTimer);
    rec.dialTimer = null;
  }

  async #dial(rec: PeerRecord): Promise<void> {
    const ctx = this.ctx;
    if (ctx.closed() || rec.removed || rec.session || rec.dialing) return;
    const alone = ctx.peers.countAt(rec.canonical) === 1;
    const incoming = rec.inbound > 0 || (alone && this.admission.pendingFrom(rec.canonical) > 0);
    if (incoming && !rec.deferred) {
      // The peer is connecting to us already: a second connection would only be its twin. Only
      // once in a row, so stalled connections from that address cannot keep us from dialling.
      rec.deferred = true;
      this.schedule(rec, ctx.o.handshakeTimeoutMs / 2);
      return;
    }
    rec.deferred = false;
    rec.dialing = true;
    rec.attempts++;
    const started = Date.now();
    try {
      if (rec.state !== "up") setState(rec, stickyState(rec) ?? "connecting");
      const stream = await this.#connect(rec);
      if (!stream) return;
      if (ctx.closed() || rec.removed) {
        stream.close();
        return;
      }
      const left = ctx.o.handshakeTimeoutMs - (Date.now() - started);
      await runConnection(ctx, stream, rec.endpoint.address, rec, Math.max(left, MIN_HANDSHAKE_MS));
    } finally {
      rec.dialing = false;
      if (!rec.session) {
        this.schedule(rec, backoffDelay(rec.attempts, ctx.o.backoffBaseMs, ctx.o.backoffMaxMs));
      }
    }
  }

  /** The TCP connection to the peer; null (with lastError set) when connecting failed. */
  async #connect(rec: PeerRecord): Promise<ByteStream | null> {
    const ctx = this.ctx;
    const local = WILDCARDS.has(ctx.o.listenAddress) ? undefined : ctx.o.listenAddress;
    try {
      return await dialTcp({
        hostname: rec.endpoint.address,
        port: rec.endpoint.port,
        localAddress: local,
        timeoutMs: ctx.o.handshakeTimeoutMs,
        signal: ctx.signal,
      });
    } catch (e) {
      rec.lastError = `connect to ${rec.endpoint.address}:${rec.endpoint.port}: ${errorMessage(e)}`;
      ctx.log.debug("dial failed", { peer: rec.endpoint.name, error: rec.lastError });
      return null;
    }
  }
}
