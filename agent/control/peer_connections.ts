/**
 * The connection manager of the control plane: one authenticated session per pair of peers.
 *
 * It listens (`admission.ts`), and dials every configured peer (`dialer.ts`, `dial_delay.ts`);
 * each TCP connection runs the handshake of `handshake.ts` (`session_agreement.ts`). When both
 * sides dial at once, the side whose name sorts first (`pair_roles.ts`) decides which confirmed
 * connection becomes the session (the first to complete there) and tells the other side with a
 * sealed "keep" or "duplicate", so both ends agree without flapping. Heartbeats measure RTT and
 * detect silent peers (`session.ts`); lost sessions are redialled with exponential backoff and
 * jitter. Bad input is dropped, counted by reason and logged at a bounded rate
 * (`drop_counter.ts`).
 *
 * Events are the typed callbacks of {@link PeerConnectionsEvents}, given with the options.
 *
 * @module
 */

import { acceptLoop, Admission } from "./admission.ts";
import { HandshakeRateLimiter } from "./handshake_rate_limit.ts";
import {
  onRekeyMessage,
  REKEY_TICK_MS,
  rekeyAll,
  rekeyTick,
  requestRekey,
} from "./session_rekey.ts";
import type { ControlContext } from "./context.ts";
import { firstDialDelay } from "./dial_delay.ts";
import { Dialer } from "./dialer.ts";
import { DropCounter } from "./drop_counter.ts";
import {
  handshakeDeadlineMs,
  type PeerConnectionsEvents,
  type PeerConnectionsOptions,
  type PeerEndpoint,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { isDecider } from "./pair_roles.ts";
import { type PeerRecord, PeerTable } from "./peer_record.ts";
import {
  emptyStateCounts,
  type PeerConnectionsStatus,
  type PeerStatus,
  peerStatus,
} from "./peer_status.ts";
import type { ControlMessage } from "./secure_channel.ts";
import { heartbeatPeriodMs, stretchedSilenceMs } from "./heartbeat_period.ts";
import { everyOnGrid } from "./grid_timer.ts";
import { endSession, heartbeat, sendOn, sessionHeartbeatMs } from "./session.ts";
import { type ConnectionOutcome, runConnection } from "./session_agreement.ts";
import type { ByteStream } from "./tcp_stream.ts";

export type { PeerConnectionsOptions } from "./options.ts";

/** The control plane's connection manager. See the module doc for its events. */
export class PeerConnections {
  readonly #o: ResolvedOptions;
  readonly #ctx: ControlContext;
  readonly #peers = new PeerTable();
  readonly #admission: Admission;
  readonly #dialer: Dialer;
  readonly #streams = new Set<ByteStream>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();
  #listener: Deno.TcpListener | null = null;
  /** Stops the heartbeat timer. */
  #heartbeat: (() => void) | null = null;
  /** This box's heartbeat period for its number of peers (heartbeat_period.ts). */
  #heartbeatMs: number;
  /** Stops the rekey tick. */
  #rekeyTimer: (() => void) | null = null;
  #closed = false;

  constructor(opts: PeerConnectionsOptions) {
    this.#o = resolveOptions(opts);
    const events: PeerConnectionsEvents = {
      onSessionUp: opts.onSessionUp,
      onSessionDown: opts.onSessionDown,
      onMessage: (e) => {
        // Rekeys are the session layer's own business (and must run before the next frame).
        const rec = this.#peers.get(e.peer);
        if (e.msg.type !== "rekey" || !rec?.session) return opts.onMessage?.(e);
        onRekeyMessage(this.#ctx, rec, rec.session, e.msg);
      },
      onSessionKeys: opts.onSessionKeys,
      onAuthFailed: opts.onAuthFailed,
    };
    this.#admission = new Admission(this.#o.maxPendingHandshakes, this.#o.maxPendingPerSource);
    this.#ctx = {
      o: this.#o,
      log: opts.logger,
      drops: new DropCounter(opts.logger),
      peers: this.#peers,
      events,
      handshakeRate: new HandshakeRateLimiter(this.#o.handshakeRate),
      signal: this.#abort.signal,
      streams: this.#streams,
      duplicates: 0,
      closed: () => this.#closed,
      track: (p) => this.#track(p),
      scheduleDial: (rec, ms) => this.#dialer.schedule(rec, ms),
      cancelDial: (rec) => this.#dialer.cancel(rec),
      decides: (peer) => isDecider(this.#o.localName, peer),
      heartbeatMs: () => this.#heartbeatMs,
    };
    this.#dialer = new Dialer(this.#ctx, this.#admission);
    for (const p of opts.peers) this.#peers.add(p);
    this.#heartbeatMs = heartbeatPeriodMs(this.#o.heartbeatMs, opts.peers.length);
  }

  /** The address and port actually listened on (port 0 picks one). */
  get listenAddr(): Deno.NetAddr | null {
    return this.#listener?.addr ?? null;
  }

  /** Starts listening and dialling. Throws if the listen address is unavailable. */
  start(): void {
    if (this.#closed || this.#listener) return;
    this.#listener = Deno.listen({
      hostname: this.#o.listenAddress,
      port: this.#o.listenPort,
      transport: "tcp",
    });
    this.#track(acceptLoop(this.#ctx, this.#admission, this.#listener));
    for (const rec of this.#peers.values()) this.#dialFirst(rec);
    this.#heartbeat = this.#startHeartbeat(this.#heartbeatMs);
    this.#sayHeartbeat();
    if (this.#o.rekey !== false) {
      this.#rekeyTimer = everyOnGrid(REKEY_TICK_MS, () => rekeyTick(this.#ctx));
    }
  }

  /** Replaces the set of peers (config reload): removed or moved peers are disconnected. */
  updatePeers(list: PeerEndpoint[]): void {
    const next = new Map(list.map((p) => [p.name, p]));
    for (const [name, rec] of [...this.#peers.entries()]) {
      const n = next.get(name);
      if (
        n && n.address === rec.endpoint.address && n.host === rec.endpoint.host &&
        n.port === rec.endpoint.port && sameKey(n.key, rec.endpoint.key)
      ) continue;
      rec.removed = true;
      this.#dialer.cancel(rec);
      endSession(
        this.#ctx,
        rec,
        n ? "peer moved by config reload" : "peer removed by config reload",
      );
      this.#peers.delete(rec);
    }
    for (const p of list) {
      if (this.#peers.get(p.name)) continue;
      const rec = this.#peers.add(p);
      if (this.#listener) this.#dialFirst(rec);
    }
    const period = heartbeatPeriodMs(this.#o.heartbeatMs, list.length);
    if (period !== this.#heartbeatMs) {
      this.#heartbeatMs = period;
      if (this.#heartbeat) {
        this.#heartbeat();
        this.#heartbeat = this.#startHeartbeat(period);
        this.#sayHeartbeat();
      }
    }
  }

  /**
   * Heartbeats on the wall-clock grid of their period: every box's go out in the same instant
   * and are read in bursts (grid_timer.ts; a quiet 50-box fleet: 0.68 → 0.50 CPU s per agent
   * per minute).
   */
  #startHeartbeat(periodMs: number): () => void {
    return everyOnGrid(periodMs, () => heartbeat(this.#ctx));
  }

  /** A stretched heartbeat period is said, so that slower failure detection is no surprise. */
  #sayHeartbeat(): void {
    if (this.#heartbeatMs === this.#o.heartbeatMs) return;
    this.#ctx.log.info("heartbeat period stretched for a large fleet", {
      heartbeatMs: this.#heartbeatMs,
      deadAfterMs: stretchedSilenceMs(this.#o.deadAfterMs, this.#heartbeatMs, this.#o.heartbeatMs),
      peers: [...this.#peers.values()].length,
    });
  }

  /**
   * The box's passwords changed (reload, #14): new handshakes use these, and every live session
   * rekeys under them at once; a session whose peer holds neither ends (and is redialled).
   */
  setPasswords(current: Uint8Array | null, previous: Uint8Array | null = null): void {
    this.#o.password = current;
    this.#o.previousPassword = previous;
    rekeyAll(this.#ctx);
  }

  /** Asks for an early rekey of the peer's session (a datapath key limit); false: no session. */
  requestRekey(peer: string): boolean {
    const rec = this.#peers.get(peer);
    return rec ? requestRekey(this.#ctx, rec) : false;
  }

  /** Sends a sealed message on the peer's current session; false when there is none. */
  send(peer: string, msg: ControlMessage): boolean {
    const rec = this.#peers.get(peer);
    // The type is checked at run time too: a message without one could never be dispatched.
    if (!rec?.session || typeof msg.type !== "string") return false;
    return sendOn(this.#ctx, rec, rec.session, msg);
  }

  /**
   * Runs the handshake on a stream carried by relays (#16, agent/relay/): as the dialer (we
   * opened it) or the listener; on "keep" it becomes the peer's session, marked relayed `via`
   * its first relay. The peer must be configured; otherwise the stream is closed.
   */
  runRelayed(
    stream: ByteStream,
    o: { peer: string; via: string; role: "dialer" | "listener" },
  ): Promise<ConnectionOutcome> {
    const rec = this.#peers.get(o.peer);
    if (!rec || this.#closed) {
      stream.close();
      return Promise.resolve("failed");
    }
    const label = `${o.peer} via ${o.via}`;
    return this.#track(
      runConnection(
        this.#ctx,
        stream,
        label,
        o.role === "dialer" ? rec : null,
        handshakeDeadlineMs(this.#o),
        { peer: o.peer, via: o.via },
      ),
    );
  }

  /** The peers with a session now (cheap: no status is built). */
  sessionPeers(): string[] {
    const up: string[] = [];
    for (const [name, r] of this.#peers.entries()) if (r.state === "up") up.push(name);
    return up;
  }

  /**
   * Whether `peer` has a direct (not relayed) session now. Asked for every relayed message a
   * box forwards, so it reads one record instead of building `status()`.
   */
  directUp(peer: string): boolean {
    const r = this.#peers.get(peer);
    return r?.state === "up" && r.session !== null && r.session.via === null;
  }

  /**
   * The heartbeat period of `peer`'s session (the decider's, heartbeat_period.ts); this box's
   * own period while there is none. Its silence is judged against this.
   */
  heartbeatMs(peer: string): number {
    const r = this.#peers.get(peer);
    return r?.session ? sessionHeartbeatMs(this.#ctx, r, r.session) : this.#heartbeatMs;
  }

  /**
   * Milliseconds since anything arrived on `peer`'s direct session; null without a direct
   * session, undefined for a peer not configured here. The relay asks it for every peer on each
   * tick (every second), so it reads one record instead of building `status()`.
   */
  directSilentMs(peer: string, now: number): number | null | undefined {
    const r = this.#peers.get(peer);
    if (!r) return undefined;
    if (r.state !== "up" || r.session === null || r.session.via !== null) return null;
    return Math.max(0, now - r.session.lastRx);
  }

  /** Per-peer state and counters, and dropped bad input by reason. */
  status(): PeerConnectionsStatus {
    const now = Date.now();
    const peers: Record<string, PeerStatus> = {};
    const summary = emptyStateCounts();
    for (const [name, r] of this.#peers.entries()) {
      // A dial-out-only box dials first whichever side decides (#15).
      const first = this.#ctx.decides(name) || this.#o.dialOutOnly;
      const period = r.session ? sessionHeartbeatMs(this.#ctx, r, r.session) : null;
      peers[name] = peerStatus(r, now, this.#dialer.phase(r), first, period);
      summary[r.state]++;
    }
    return {
      summary,
      dialSlots: this.#dialer.slots(),
      peers,
      drops: this.#ctx.drops.snapshot(),
      pendingHandshakes: this.#admission.pending,
      duplicatesClosed: this.#ctx.duplicates,
    };
  }

  /** Closes the listener and every connection; resolves when all their tasks have ended. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      this.#heartbeat?.();
      this.#dialer.close();
      this.#rekeyTimer?.();
      try {
        this.#listener?.close();
      } catch {
        // Already closed.
      }
      for (const rec of this.#peers.values()) if (rec.session) rec.session.closed = true;
      for (const s of this.#streams) s.close();
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #dialFirst(rec: PeerRecord): void {
    // A box nobody can dial (dial-out only) dials at once, whichever side decides (#15).
    const prompt = this.#ctx.decides(rec.endpoint.name) || this.#o.dialOutOnly;
    this.#dialer.schedule(rec, firstDialDelay(prompt, this.#o.deferDialMs, this.#o.dialJitterMs));
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p)).catch(() => {});
    return p;
  }
}

/** Same node key (or none on both): a changed key ends the session like a moved address. */
function sameKey(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
