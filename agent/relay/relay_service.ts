/**
 * Relaying the control plane (#16), as one box runs it, in the order a relayed session lives:
 *
 * 1. Open: every tick (and at once when a session goes down), a peer with no session whose
 *    route (agent/topology/routes.ts) goes `via` a neighbour gets a relayed stream through that
 *    neighbour: opened by the side that decides for the pair (`isDecider`), by the other only
 *    as a fallback after {@link RELAY_TIMING}.followerDelayMs. The stream runs the normal v2
 *    handshake and sealed channel end to end (`PeerConnections.runRelayed`), so the pair's
 *    session is authenticated by the endpoints alone; failures back off.
 * 2. Forward: a relay message for another box is checked (`relay_message.ts`), allowed only
 *    under both ends' `relays:` lists and this box's `relay:` (`relay_policy.ts`), charged to
 *    the sending neighbour's byte bucket, and sent one hop on: to the destination when this box
 *    has a direct session with it, else to the first hop of its own route. Refusals go back as
 *    `relay-close`, so the opener learns at once. Counted: what this box carried for others.
 * 3. Deliver: a message for this box feeds its stream; the first of a stream opened by the
 *    peer starts the listener's handshake on a new stream (bounded in number).
 * 4. End: a relayed session ends like any other (heartbeats, `relay-close`, its relay's session
 *    lost: `neighbourDown`); the direct dials of agent/control never stop meanwhile, and a
 *    direct session replaces the relayed one as soon as the underlay lets one through.
 *
 * @module
 */

import {
  type ByteStream,
  type ConnectionOutcome,
  type ControlMessage,
  DEFAULT_HEARTBEAT_MS,
  everyOnGrid,
  isDecider,
  type Logger,
  type PeerConnectionsStatus,
  type PeerStatus,
  type PeerWait,
  stretchedSilenceMs,
} from "../control/mod.ts";
import { computeRoutes, type Edge, type RelayPolicy, type Route } from "../topology/mod.ts";
import { mayRelay } from "./relay_policy.ts";
import {
  isRelayMessage,
  parseRelayMessage,
  RELAY_MAX_HOPS,
  type RelayMessage,
  relayWire,
} from "./relay_message.ts";
import { RelayStream } from "./relay_stream.ts";

/** Timing and bounds of relaying. */
export interface RelayTiming {
  /**
   * How often routes are looked at for peers without a session. A second: a lost session is
   * noticed `silentAfterMs` after its last frame anyway, and an idle agent's wake-ups are its
   * CPU floor (each costs some hundreds of microseconds of runtime work).
   */
  tickMs: number;
  /** The side that does not decide opens a relayed stream only after this long without one. */
  followerDelayMs: number;
  /**
   * A direct session silent this long counts as lost for routing: a relayed session is opened
   * at once, and replaces it (its heartbeats would take `deadAfterMs` to end it). Two
   * heartbeats and a margin: a session that is heard never stays silent this long. Set for the
   * default 2 s heartbeat; a session heartbeated less often (a large fleet) stretches it alike.
   */
  silentAfterMs: number;
  /**
   * A pair that never had a session is left to its direct dials this long (a fleet of fifty
   * takes twenty seconds to start on a small box), and until they failed
   * `directFailures` times (or none can be made): relaying is the fallback, not a shortcut. While
   * a fleet converges after a power cut most pairs are simply not dialled yet; relaying them would
   * make each such pair's session twice (relayed, then replaced by the direct one) and load the
   * relays. A pair that had a session and lost it goes via a relay at once.
   */
  directFirstMs: number;
  /** Unanswered direct connects after which a pair that never met may be relayed. */
  directFailures: number;
  /**
   * A pair that never met whose connects are answered but whose handshakes fail is relayed
   * only after this long (see {@link directGaveUp}).
   */
  directSlowMs: number;
  /** First retry after a failed relayed handshake; doubles per failure. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Streams at once on this box (both ends' and none of the relayed ones it forwards). */
  maxStreams: number;
  /** Streams a peer may have opened to us that have not become its session yet. */
  maxPendingPerPeer: number;
  /** Bytes per second a neighbour may have this box forward, sustained, and in a burst. */
  bytesPerSecond: number;
  burstBytes: number;
  /**
   * No relayed stream is opened while this box's timers run later than this (ms, `loopLag`):
   * a box that busy takes slow peers for lost ones, and a relay mends a broken path, not a
   * busy box — relaying then only adds a third box's work to every message.
   */
  maxLagMs: number;
}

/** Default timing. */
export const RELAY_TIMING: RelayTiming = {
  tickMs: 1000,
  followerDelayMs: 4000,
  silentAfterMs: 4500,
  directFirstMs: 20_000,
  directFailures: 3,
  directSlowMs: 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 10_000,
  maxStreams: 64,
  maxPendingPerPeer: 2,
  bytesPerSecond: 512 * 1024,
  burstBytes: 1024 * 1024,
  maxLagMs: 1000,
};

/** What a peer waits for while a direct attempt of its pair runs or waits for a dial slot. */
const DIRECT_UNDER_WAY: ReadonlySet<PeerWait> = new Set<PeerWait>([
  "dial",
  "dial-slot",
  "connect",
  "handshake",
  "inbound-handshake",
]);

/**
 * May the pair go via a relay (the peer's status `st`, down for `downMs`): it had a session and
 * lost it, or its direct dials had their go.
 *
 * A pair that never met waits `directFirstMs`, then needs `directFailures` dials whose connect
 * got no answer (`unreachedAttempts`: what a blocked path looks like). Connects that are answered
 * and handshakes that then run out of time are a busy box, not a blocked path: a hundred agents
 * starting on two vCPUs did that by the thousand, and relaying them added a third box's work to
 * handshakes already too slow (most failed handshakes of such a run were relayed ones). Those
 * pairs are relayed only after `directSlowMs`, in case the path carries connects and nothing else;
 * so are pairs this box could dial but leaves to the peer's dials. Never while a direct attempt
 * of the pair runs or waits for a dial slot.
 */
export function directGaveUp(
  st: PeerStatus | undefined,
  downMs: number,
  t: Pick<RelayTiming, "directFirstMs" | "directFailures" | "directSlowMs">,
): boolean {
  if (!st || st.sessionsUp > 0) return true;
  if (downMs < t.directFirstMs) return false;
  // A direct attempt runs, or waits for its turn in our bounded dial queue (a box with a hundred
  // peers to meet gets through its first dials slowly): the direct path is being worked on.
  if (DIRECT_UNDER_WAY.has(st.waitingFor)) return false;
  // We never dialled. If we cannot (no address for the peer here), waiting gains nothing. If we
  // can, we are leaving the pair's session to the peer's dials (it decides, and it has been
  // connecting to us): a busy fleet, where relaying that pair at 20 s made most of the failed
  // handshakes of a 100-agent start; after directSlowMs it goes via a relay all the same.
  if (st.dials === 0) return !st.dialable || downMs >= t.directSlowMs;
  if (st.unreachedAttempts >= t.directFailures) return true;
  // A refused connect says the peer's agent was not listening yet (a fleet starting), not that
  // the path is blocked.
  return downMs >= t.directSlowMs && st.failedAttempts >= t.directFailures &&
    !/refused/i.test(st.lastError ?? "");
}

/** What this box forwarded for others, and what it refused. */
export interface RelayControlCounters {
  /** Relay messages carried for other pairs, and their stream bytes. */
  forwardedMessages: number;
  forwardedBytes: number;
  /** Relayed streams this box opened, and accepted, as an endpoint. */
  streamsOpened: number;
  streamsAccepted: number;
  dropped: Record<RelayDropReason, number>;
}

/** Why a relay message was dropped. */
export type RelayDropReason = "malformed" | "policy" | "unreachable" | "hops" | "rate" | "limit";

/** What `status` shows. */
export interface RelayControlView {
  /** This box forwards for others (`relay:` is not false). */
  relays: boolean;
  counters: RelayControlCounters;
  /** The relayed streams ending here. */
  streams: { peer: string; via: string; opener: string; bytesIn: number; bytesOut: number }[];
}

/** What the service needs of the session layer. */
export interface RelayControl {
  send(peer: string, msg: ControlMessage): boolean;
  status(): PeerConnectionsStatus | null;
  /** Whether `peer` has a direct session now (cheap: asked per forwarded message). */
  directUp(peer: string): boolean;
  /**
   * Milliseconds since `peer`'s direct session last heard anything; null without a direct
   * session, undefined for a peer the session layer does not know (cheap: asked per tick).
   */
  directSilentMs(peer: string, now: number): number | null | undefined;
  /** The heartbeat period of `peer`'s session, ms (cheap: asked per tick). */
  heartbeatMs(peer: string): number;
  runRelayed(
    stream: ByteStream,
    o: { peer: string; via: string; role: "dialer" | "listener" },
  ): Promise<ConnectionOutcome>;
}

/** Options of the service. */
export interface RelayServiceOptions {
  self: string;
  /** Every peer name of the fleet, this box included. */
  peers: readonly string[];
  policy: ReadonlyMap<string, RelayPolicy>;
  control: RelayControl;
  /** The gossiped graph's edges now (routes are computed here, with silent sessions down). */
  edges: () => readonly Edge[];
  log: Logger;
  timing?: Partial<RelayTiming>;
  /** How late this process's timers run now, ms (default: always 0; see `maxLagMs`). */
  loopLag?: () => number;
}

/** Ended streams remembered, so late data for them is not taken for new ones (ids are random). */
const ENDED_STREAMS_REMEMBERED = 1024;

/** The high bit of a stream id says which end opened it: set when the opener's name sorts first. */
const OPENER_FIRST = 0x80000000;

/** A new stream id for a stream `opener` opens to `peer`. */
export function newStreamId(opener: string, peer: string): number {
  const r = crypto.getRandomValues(new Uint32Array(1))[0] & 0x7fffffff;
  return (r | (opener < peer ? OPENER_FIRST : 0)) >>> 0;
}

/** Which of `a`, `b` opened stream `id`. */
export function openerOf(id: number, a: string, b: string): string {
  const first = a < b ? a : b, second = a < b ? b : a;
  return (id & OPENER_FIRST) !== 0 ? first : second;
}

/** One box's relaying of control sessions. */
export class RelayService {
  readonly counters: RelayControlCounters = {
    forwardedMessages: 0,
    forwardedBytes: 0,
    streamsOpened: 0,
    streamsAccepted: 0,
    dropped: { malformed: 0, policy: 0, unreachable: 0, hops: 0, rate: 0, limit: 0 },
  };
  #o: RelayServiceOptions;
  #t: RelayTiming;
  #fleet: Set<string>;
  #streams = new Map<string, RelayStream>();
  #dialing = new Set<string>();
  #attempts = new Map<string, number>();
  #nextAt = new Map<string, number>();
  #downSince = new Map<string, number>();
  /**
   * Routes over the graph as of this tick; null until something needs them (a peer to relay
   * to, a message to forward to a box this one has no direct session with). They cost
   * O(edges), N² in a full mesh, and a starting fleet's ticks mostly find nobody to relay to:
   * every peer is still within its direct dials' `directFirstMs`.
   */
  #routes: Map<string, Route> | null = null;
  #buckets = new Map<string, { tokens: number; at: number }>();
  /** Stops the tick. */
  #timer: (() => void) | null = null;
  #kick: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(o: RelayServiceOptions) {
    this.#o = o;
    this.#t = { ...RELAY_TIMING, ...o.timing };
    this.#fleet = new Set(o.peers);
  }

  /** True for the message types this service owns. */
  static owns(msg: ControlMessage): boolean {
    return isRelayMessage(msg);
  }

  start(): void {
    // On the wall-clock grid: the agent's timers of a second share one wake-up (grid_timer.ts).
    this.#timer = everyOnGrid(this.#t.tickMs, () => this.tick());
  }

  /** Stops the timer and closes every stream ending here. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.();
    if (this.#kick !== null) clearTimeout(this.#kick);
    for (const s of [...this.#streams.values()]) s.close("agent stopping");
  }

  /** The fleet or its relay rules changed (reload). */
  reconfigure(peers: readonly string[], policy: ReadonlyMap<string, RelayPolicy>): void {
    this.#o = { ...this.#o, peers, policy };
    this.#fleet = new Set(peers);
    for (const s of [...this.#streams.values()]) {
      if (!this.#fleet.has(s.peer) || !this.#fleet.has(s.via)) s.close("removed by a reload");
    }
  }

  /** A session went down: streams through that neighbour end; look for a relay at once. */
  sessionDown(peer: string): void {
    for (const s of [...this.#streams.values()]) {
      if (s.via === peer) s.end(`relay ${peer} lost its session with ${this.#o.self}`);
    }
    this.#kickSoon();
  }

  /** The topology changed: look again soon (a relay may have appeared). */
  topologyChanged(): void {
    this.#kickSoon();
  }

  #kickSoon(): void {
    if (this.#kick !== null || this.#stopped) return;
    this.#kick = setTimeout(() => {
      this.#kick = null;
      this.tick();
    }, 0);
  }

  /** A relay message from neighbour `from`'s session. */
  receive(from: string, msg: ControlMessage): void {
    const parsed = parseRelayMessage(msg, this.#fleet);
    if (!parsed.ok) return this.#drop("malformed", from, parsed.why);
    const m = parsed.m;
    if (m.to === this.#o.self) this.#deliver(from, m);
    else this.#forward(from, m);
  }

  /** What status shows. */
  view(): RelayControlView {
    return {
      relays: this.#o.policy.get(this.#o.self)?.relay !== false,
      counters: structuredClone(this.counters),
      streams: [...this.#streams.values()].map((s) => ({
        peer: s.peer,
        via: s.via,
        opener: s.opener,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
      })),
    };
  }

  /** 1. Opens relayed streams where routes say `via` and no session (or a silent one) exists. */
  tick(): void {
    if (this.#stopped) return;
    this.#routes = null;
    if (this.#allDirect()) {
      this.#downSince.clear();
      return;
    }
    const status = this.#o.control.status();
    if (!status) return;
    const silent = this.#silent(status);
    // A relay that went silent carries nothing any more: its streams end, others take over.
    for (const s of [...this.#streams.values()]) {
      if (silent.has(s.via)) s.end(`relay ${s.via} silent`);
    }
    const now = Date.now();
    if (this.#heldBack()) return;
    for (const peer of this.#o.peers) {
      if (peer === this.#o.self) continue;
      const st = status.peers[peer];
      if (!st || (st.state === "up" && !silent.has(peer))) {
        this.#downSince.delete(peer);
        continue;
      }
      if (!this.#downSince.has(peer)) this.#downSince.set(peer, now);
      if (this.#dialing.has(peer) || now < (this.#nextAt.get(peer) ?? 0)) continue;
      const downMs = now - this.#downSince.get(peer)!;
      if (!directGaveUp(st, downMs, this.#t)) continue;
      const follows = !isDecider(this.#o.self, peer);
      if (follows && downMs < this.#t.followerDelayMs) continue;
      this.#routes ??= this.#computeRoutes(status, silent);
      const r = this.#routes.get(peer);
      if (r?.kind !== "via") continue;
      if (!this.#directUp(status, r.via)) continue;
      this.#open(peer, r.via);
    }
  }

  /**
   * The quiet fleet's tick: every peer has a direct session that was heard from lately and no
   * relayed stream ends here, so there is nothing to open or end and no route is needed (a
   * message forwarded for others goes straight to its destination). Without this check every
   * tick built the whole status and routes over every edge of the fleet: O(N²) work per agent
   * twice a second (the tick was 500 ms then), most of a converged 30-box lab's CPU beside its
   * heartbeats.
   */
  #allDirect(): boolean {
    if (this.#streams.size > 0) return false;
    const now = Date.now();
    const control = this.#o.control;
    for (const peer of this.#o.peers) {
      if (peer === this.#o.self) continue;
      const silent = control.directSilentMs(peer, now);
      if (silent === null || (silent !== undefined && silent > this.#silentAfter(peer))) {
        return false;
      }
    }
    return true;
  }

  /** True while this box is too busy to open relays (`maxLagMs`); said once per episode. */
  #heldBack(): boolean {
    const lag = this.#o.loopLag?.() ?? 0;
    const busy = lag > this.#t.maxLagMs;
    if (busy && !this.#busy) {
      this.#o.log.info("relaying held back: this box's timers run late", {
        lagMs: Math.round(lag),
      });
    }
    this.#busy = busy;
    return busy;
  }
  #busy = false;

  /** Direct sessions silent past `silentAfterMs`: lost as far as routes go. */
  #silent(status: PeerConnectionsStatus): Set<string> {
    return new Set(
      Object.entries(status.peers).flatMap(([n, p]) =>
        p.state === "up" && !p.via && (p.silentMs ?? 0) > this.#silentAfter(n) ? [n] : []
      ),
    );
  }

  /**
   * `silentAfterMs` for `peer`'s session: it is set for the default 2 s heartbeat, and a large
   * fleet heartbeats less often (control/heartbeat_period.ts), so it stretches by as much.
   */
  #silentAfter(peer: string): number {
    const period = this.#o.control.heartbeatMs(peer);
    return stretchedSilenceMs(this.#t.silentAfterMs, period, DEFAULT_HEARTBEAT_MS);
  }

  /** This tick's routes, computed on first use. */
  #routesNow(): Map<string, Route> {
    if (this.#routes) return this.#routes;
    const status = this.#o.control.status();
    this.#routes = status ? this.#computeRoutes(status, this.#silent(status)) : new Map();
    return this.#routes;
  }

  /** Routes over the graph with this box's silent sessions taken as down. */
  #computeRoutes(status: PeerConnectionsStatus, silent: Set<string>): Map<string, Route> {
    const self = this.#o.self;
    const edges = this.#o.edges().map((e): Edge =>
      (e.a === self && silent.has(e.b)) || (e.b === self && silent.has(e.a))
        ? { ...e, state: "down", why: "silent" }
        : e
    );
    const localUp = new Set(
      Object.keys(status.peers).filter((n) => this.#directUp(status, n) && !silent.has(n)),
    );
    const routes = computeRoutes({
      self,
      peers: this.#o.peers.filter((p) => p !== self),
      localUp,
      edges,
      policy: this.#o.policy,
    });
    return new Map(routes.map((r) => [r.peer, r]));
  }

  #directUp(status: PeerConnectionsStatus, peer: string): boolean {
    const st = status.peers[peer];
    return st?.state === "up" && !st.via;
  }

  #open(peer: string, via: string): void {
    if (this.#streams.size >= this.#t.maxStreams) return;
    const s = new RelayStream(
      this.#o.self,
      peer,
      via,
      newStreamId(this.#o.self, peer),
      this.#o.self,
      this.#owner,
    );
    this.#streams.set(s.key, s);
    this.#dialing.add(peer);
    this.counters.streamsOpened++;
    this.#o.log.debug("relayed session: dialling", { peer, via });
    this.#o.control.runRelayed(s, { peer, via, role: "dialer" }).then((outcome) =>
      this.#dialed(peer, via, outcome)
    );
  }

  #dialed(peer: string, via: string, outcome: ConnectionOutcome): void {
    this.#dialing.delete(peer);
    if (outcome === "session") {
      this.#attempts.delete(peer);
      this.#nextAt.delete(peer);
      this.#o.log.info("relayed session up", { peer, via });
      return;
    }
    const n = (this.#attempts.get(peer) ?? 0) + 1;
    this.#attempts.set(peer, n);
    const wait = Math.min(this.#t.backoffMaxMs, this.#t.backoffBaseMs * 2 ** (n - 1));
    this.#nextAt.set(peer, Date.now() + wait * (0.5 + Math.random() / 2));
    this.#o.log.debug("relayed session: dial failed", { peer, via, outcome, attempts: n });
  }

  readonly #owner = {
    send: (via: string, m: RelayMessage) => this.#o.control.send(via, relayWire(m)),
    closed: (s: RelayStream) => {
      if (this.#streams.get(s.key) !== s) return;
      this.#streams.delete(s.key);
      this.#remember(s.key);
    },
  };

  /** Marks a stream key ended; bounded, the oldest keys go first (a Set keeps insertion order). */
  #remember(key: string): void {
    this.#ended.add(key);
    for (const k of this.#ended) {
      if (this.#ended.size <= ENDED_STREAMS_REMEMBERED) break;
      this.#ended.delete(k);
    }
  }
  /**
   * Keys of streams that ended here, newest last. Data still in flight for one of them (the
   * peer has not heard of the end yet) is answered with a close, not taken for a new stream
   * whose first bytes would be the middle of the old one.
   */
  readonly #ended = new Set<string>();

  /** 3. A message for this box. */
  #deliver(neighbour: string, m: RelayMessage): void {
    const opener = openerOf(m.stream, m.from, m.to);
    const key = RelayStream.key(opener, m.stream);
    const s = this.#streams.get(key);
    if (m.type === "relay-close") {
      if (s && s.peer === m.from) s.end(`closed by ${m.from}: ${m.why}`);
      return;
    }
    if (s) {
      if (s.peer === m.from) s.deliver(m.data);
      return;
    }
    // Data for a stream this box opened and has forgotten, or for one that ended here: tell
    // the peer it is gone.
    if (opener !== m.from) return this.#closeBack(neighbour, m, "no such stream");
    if (this.#ended.has(key)) return this.#closeBack(neighbour, m, "stream ended");
    // A stream refused here stays refused: its later data is not the start of a new one.
    if (!mayRelay(neighbour, [this.#o.self, m.from], this.#o.policy)) {
      this.#drop("policy", neighbour, `${neighbour} may not relay between ${m.from} and us`);
      this.#remember(key);
      return this.#closeBack(neighbour, m, `${neighbour} may not relay for ${this.#o.self}`);
    }
    const pending =
      [...this.#streams.values()].filter((x) => x.peer === m.from && x.opener === m.from).length;
    if (this.#streams.size >= this.#t.maxStreams || pending >= this.#t.maxPendingPerPeer) {
      this.#drop("limit", neighbour, `too many relayed streams from ${m.from}`);
      this.#remember(key);
      return this.#closeBack(neighbour, m, "too many relayed streams");
    }
    const stream = new RelayStream(this.#o.self, m.from, neighbour, m.stream, m.from, this.#owner);
    this.#streams.set(stream.key, stream);
    this.counters.streamsAccepted++;
    stream.deliver(m.data);
    this.#o.control.runRelayed(stream, { peer: m.from, via: neighbour, role: "listener" });
  }

  /** 2. A message for another box: one hop on, or refused back. */
  #forward(neighbour: string, m: RelayMessage): void {
    if (!mayRelay(this.#o.self, [m.from, m.to], this.#o.policy)) {
      this.#drop("policy", neighbour, `not relaying between ${m.from} and ${m.to}`);
      return this.#closeBack(neighbour, m, `${this.#o.self} does not relay for this pair`);
    }
    if (m.hops === 0) {
      this.#drop("hops", neighbour, `no hops left from ${m.from} to ${m.to}`);
      return this.#closeBack(neighbour, m, "too many relays on the path");
    }
    const next = this.#nextHop(m.to, neighbour);
    if (next === null) {
      this.#drop("unreachable", neighbour, `no path from ${this.#o.self} to ${m.to}`);
      return this.#closeBack(neighbour, m, `${this.#o.self} has no path to ${m.to}`);
    }
    const bytes = m.type === "relay" ? m.data.length : 0;
    if (!this.#charge(neighbour, bytes)) {
      this.#drop("rate", neighbour, `${neighbour} exceeds the relay rate`);
      return;
    }
    if (!this.#o.control.send(next, relayWire({ ...m, hops: m.hops - 1 }))) {
      this.#drop("unreachable", neighbour, `session with ${next} gone`);
      return this.#closeBack(neighbour, m, `${this.#o.self} lost its session with ${next}`);
    }
    this.counters.forwardedMessages++;
    this.counters.forwardedBytes += bytes;
  }

  /** The neighbour to send a message for `to` to: `to` itself, or its route's first hop. */
  #nextHop(to: string, from: string): string | null {
    const control = this.#o.control;
    if (control.directUp(to)) return to;
    const r = this.#routesNow().get(to);
    if (r?.kind !== "via" || r.via === from || !control.directUp(r.via)) return null;
    return r.via;
  }

  /** Refuses a data message back to where it came from (a close is never answered). */
  #closeBack(neighbour: string, m: RelayMessage, why: string): void {
    if (m.type !== "relay") return;
    this.#o.control.send(
      neighbour,
      relayWire({
        type: "relay-close",
        from: m.to,
        to: m.from,
        stream: m.stream,
        hops: RELAY_MAX_HOPS,
        why,
      }),
    );
  }

  /** The neighbour's byte bucket: `burstBytes` at once, `bytesPerSecond` sustained. */
  #charge(neighbour: string, bytes: number): boolean {
    const now = Date.now();
    const b = this.#buckets.get(neighbour) ?? { tokens: this.#t.burstBytes, at: now };
    b.tokens = Math.min(
      this.#t.burstBytes,
      b.tokens + (now - b.at) / 1000 * this.#t.bytesPerSecond,
    );
    b.at = now;
    this.#buckets.set(neighbour, b);
    if (b.tokens < bytes) return false;
    b.tokens -= bytes;
    return true;
  }

  #drop(reason: RelayDropReason, from: string, detail: string): void {
    this.counters.dropped[reason]++;
    this.#o.log.debug("relay message dropped", { peer: from, reason, detail });
  }
}
