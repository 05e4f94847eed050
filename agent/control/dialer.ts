/**
 * Dialling configured peers, in the order a dial lives:
 *
 * 1. scheduled: the first dial (`dial_delay.ts`: the decider within a short jitter, the other
 *    side only as a late fallback), or a retry after a backoff step that doubles per failure;
 * 2. queued: due, waiting for one of a bounded number of dial slots (`dial_queue.ts`: one timer
 *    for all peers, a pace between starts, a window that halves on timeouts);
 * 3. connect: a TCP connect from our listen address, with its own deadline; a peer given by
 *    DNS name is resolved here, at every dial (never cached), and each address tried in turn;
 * 4. handshake: `session_agreement.ts`, with a deadline that started when the slot was taken.
 *
 * A dial is put off once when the peer is connecting to us already (its connection would only
 * be our dial's twin), and the fallback dial of the side that does not decide is put off while
 * the peer has connected to us recently: it is alive and dialling, its dial will make the pair.
 * Peers without an address are never dialled; a box without one (dial-out only, #15) dials
 * every other promptly, as nobody can dial it.
 *
 * @module
 */

import { formatHostPort } from "../../config/mod.ts";
import { type ControlContext, errorMessage } from "./context.ts";
import type { Admission } from "./admission.ts";
import { backoffDelay } from "./dial_delay.ts";
import { type DialPhase, DialQueue, type DialResult } from "./dial_queue.ts";
import { logPeerFailure } from "./episode_log.ts";
import {
  dialable,
  hasDirectSession,
  type PeerRecord,
  setState,
  stickyState,
} from "./peer_record.ts";
import { runConnection } from "./session_agreement.ts";
import { type ByteStream, dialTcp } from "./tcp_stream.ts";
import { connectDeadlineMs, handshakeDeadlineMs } from "./options.ts";

/** Listen addresses that are no usable source address for a dial. */
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]"]);
/** Least time a dialled connection gets for its handshake after a slow connect. */
const MIN_HANDSHAKE_MS = 1000;

/** How a connect failed: refused (box up, agent not listening) is cheap to retry soon. */
type ConnectFailure = "refused" | "other";

/** Schedules and runs the dials of one manager. */
export class Dialer {
  readonly #queue: DialQueue<PeerRecord>;

  constructor(private readonly ctx: ControlContext, private readonly admission: Admission) {
    this.#queue = new DialQueue({
      maxConcurrent: ctx.o.maxConcurrentDials,
      paceMs: ctx.o.dialPaceMs,
      run: (rec) => this.#dial(rec),
    });
  }

  /** Dials `rec` after `delayMs`, unless it is up or a dial is already pending or running. */
  schedule(rec: PeerRecord, delayMs: number): void {
    if (this.ctx.closed() || rec.removed || hasDirectSession(rec) || !dialable(rec.endpoint)) {
      return;
    }
    this.#queue.schedule(rec, delayMs);
  }

  /** Forgets the peer's pending dial, if any (a running one ends by itself). */
  cancel(rec: PeerRecord): void {
    this.#queue.cancel(rec);
  }

  /** Stops scheduling; running dials end with their connections. */
  close(): void {
    this.#queue.close();
  }

  /** Where the peer's dial stands, and when it is due. */
  phase(rec: PeerRecord): { phase: DialPhase; due: number | null } | null {
    return this.#queue.phase(rec);
  }

  /** The dial slots: allowed at once now, running, and due ones waiting. */
  slots(): { window: number; running: number; queued: number } {
    return { window: this.#queue.window, running: this.#queue.running, queued: this.#queue.queued };
  }

  async #dial(rec: PeerRecord): Promise<DialResult> {
    const ctx = this.ctx;
    if (ctx.closed() || rec.removed || hasDirectSession(rec)) {
      return { outcome: "done", retryInMs: null };
    }
    const putOff = this.#putOff(rec);
    if (putOff !== null) return { outcome: "done", retryInMs: putOff };
    rec.attempts++;
    rec.stats.dials++;
    const started = Date.now();
    let result: DialResult["outcome"] = "failed";
    let refused = false;
    try {
      if (rec.state !== "up") setState(rec, stickyState(rec) ?? "connecting");
      rec.dialStep = "connect";
      const dialled = await this.#connect(rec);
      if (typeof dialled === "string") {
        refused = dialled === "refused";
        if (!refused) rec.unreached++;
      } else if (ctx.closed() || rec.removed) {
        dialled.conn.close();
      } else {
        rec.dialStep = "handshake";
        const left = Math.max(
          handshakeDeadlineMs(ctx.o) - (Date.now() - started),
          MIN_HANDSHAKE_MS,
        );
        const r = await runConnection(ctx, dialled.conn, dialled.address, rec, left);
        result = r === "timeout" ? "timeout" : r === "failed" ? "failed" : "done";
      }
    } finally {
      rec.dialStep = null;
    }
    if (hasDirectSession(rec) || ctx.closed() || rec.removed) {
      return { outcome: result, retryInMs: null };
    }
    const cap = Math.max(
      refused ? ctx.o.refusedBackoffMaxMs : ctx.o.backoffMaxMs,
      ctx.o.backoffBaseMs,
    );
    return { outcome: result, retryInMs: backoffDelay(rec.attempts, ctx.o.backoffBaseMs, cap) };
  }

  /** Null to dial now; else the dial is better made later, in this many ms. */
  #putOff(rec: PeerRecord): number | null {
    const ctx = this.ctx;
    const alone = ctx.peers.countAt(rec.canonical) === 1;
    const incoming = rec.inbound > 0 || (alone && this.admission.pendingFrom(rec.canonical) > 0);
    if (incoming && !rec.deferred) {
      // The peer is connecting to us already: a second connection would only be its twin. Only
      // once in a row, so stalled connections from that address cannot keep us from dialling.
      rec.deferred = true;
      return ctx.o.handshakeTimeoutMs / 2;
    }
    rec.deferred = false;
    const since = Date.now() - rec.lastInboundAt;
    const follower = !ctx.decides(rec.endpoint.name) && !ctx.o.dialOutOnly;
    if (follower && rec.attempts === 0 && since < ctx.o.deferDialMs) {
      // The decider connected to us a moment ago: it is alive and dialling; leave it to it.
      return ctx.o.deferDialMs - since + ctx.o.deferDialMs * Math.random();
    }
    return null;
  }

  /**
   * The TCP connection to the peer and the address it reached, or how connecting failed
   * (logged, lastError set). A DNS name is resolved now (`resolve`), each address tried in
   * turn; the one that answers is where a keyless DNS-named peer is admitted from.
   */
  async #connect(rec: PeerRecord): Promise<{ conn: ByteStream; address: string } | ConnectFailure> {
    const ctx = this.ctx;
    const host = rec.endpoint.host;
    let addresses = [rec.endpoint.address];
    if (host) {
      try {
        addresses = await ctx.o.resolve(host);
        if (addresses.length === 0) throw new Error("no address");
      } catch (e) {
        if (ctx.closed()) return "other";
        logPeerFailure(
          ctx.log,
          rec,
          `cannot resolve ${host} (${rec.endpoint.name}): ${errorMessage(e)}`,
        );
        return "other";
      }
    }
    let failure: ConnectFailure = "other";
    for (const address of addresses) {
      const conn = await this.#connectTo(rec, address);
      if (typeof conn !== "string") {
        if (host && rec.canonical !== address) {
          ctx.log.info("peer name resolved", { peer: rec.endpoint.name, host, address });
          ctx.peers.rebind(rec, address);
        }
        return { conn, address };
      }
      failure = conn;
      if (ctx.closed()) break;
    }
    return failure;
  }

  async #connectTo(rec: PeerRecord, address: string): Promise<ByteStream | ConnectFailure> {
    const ctx = this.ctx;
    const local = WILDCARDS.has(ctx.o.listenAddress) ? undefined : ctx.o.listenAddress;
    try {
      return await dialTcp({
        hostname: address,
        port: rec.endpoint.port,
        localAddress: local,
        timeoutMs: connectDeadlineMs(ctx.o),
        signal: ctx.signal,
      });
    } catch (e) {
      if (ctx.closed()) return "other";
      const where = formatHostPort(address, rec.endpoint.port);
      const named = rec.endpoint.host ? ` (${rec.endpoint.host})` : "";
      logPeerFailure(
        ctx.log,
        rec,
        `cannot connect to ${rec.endpoint.name} at ${where}${named}: ${errorMessage(e)}`,
      );
      return e instanceof Deno.errors.ConnectionRefused ||
          /ECONNREFUSED|refused/i.test(errorMessage(e))
        ? "refused"
        : "other";
    }
  }
}
