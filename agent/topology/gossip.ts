/**
 * The topology gossip protocol, in the order a record travels:
 * 1. This box's sessions change (`setLocalLinks`): its own record gets a new `seq`; it is sent
 *    to every peer with a session at most once per `minAnnounceMs` (a flapping session cannot
 *    flood the fleet), and again every `refreshMs` as anti-entropy.
 * 2. A session comes up (`sessionUp`): the peer is due every record this box holds (full sync).
 * 3. A record arrives (`receive`): the sender's token bucket is charged (excess is dropped and
 *    counted), the record is checked (`parseRecord`; bad ones dropped and counted), merged into
 *    the graph; if it was news, every other peer with a session is due it.
 * 4. Sending: this box's own record goes out at once. Second-hand news (`#due`, `#expireForward`)
 *    waits `forwardMs` as a set of origins; then each origin's newest record goes out, unless the
 *    peer has it already (its seq was sent on this session) or hears it first-hand (the origin or
 *    the peer says they have a session: the peer ignores second-hand news of an origin it has a
 *    session with). A pair apart is given `meetMs` to meet first, and is sent one origin's
 *    records at most once per `reforwardMs` (both longer in a bigger fleet). While a fleet
 *    converges after a power cut, most pairs meet within the wait, so a burst of changes sends
 *    each peer each origin's newest record at most once, and in a full mesh nothing is
 *    forwarded: a change costs n−1 sends, not n·(n−1).
 *
 * Records about this box from others are never taken: only this box speaks for itself.
 * Timers run on an injectable `Clock`; sending goes through an injected function.
 *
 * @module
 */

import type { ControlMessage } from "../control/mod.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type Edge, TopologyGraph } from "./graph.ts";
import {
  type Link,
  MAX_FUTURE_SEQ_MS,
  nextSeq,
  parseRecord,
  type RecordDropReason,
  recordMessage,
  TOPOLOGY_MESSAGE_TYPE,
} from "./record.ts";

/** Per box, the boxes linked with it (`#neighbours`). */
type Neighbours = Map<string, Set<string>>;
/** The neighbours of a box nobody is linked with. */
const NO_NEIGHBOURS: ReadonlySet<string> = new Set();

/** Timing and bounds of the gossip. */
export interface GossipTiming {
  /**
   * Least spacing of this box's own announcements. The first change after a quiet spell goes
   * out at once (a lost session is news within its dead time); only a burst is spread out, as
   * when a fleet converges after a power cut and each box's sessions change dozens of times.
   */
  minAnnounceMs: number;
  /**
   * ... and at least this much per box of the fleet. An announcement is N sends of a record of
   * N links, so a burst costs each box N² link-sends per spacing: a fixed spacing made a
   * converging 100-box fleet send each box's record every 2 s to everyone. With 100 ms per box:
   * 2 s up to 20 boxes, 5 s at 50, 10 s at 100, 100 s at 1000. Only relays need others'
   * sessions, and they are opened for a pair 20 s after its direct dials gave up at the
   * earliest (`RELAY_TIMING.directFirstMs`); at 40 ms a converging 100-agent lab on 2 vCPUs
   * spent about a core on records.
   */
  announcePerBoxMs: number;
  /** Period of the anti-entropy re-announcement of this box's own record. */
  refreshMs: number;
  /**
   * ... and at least this much per box of the fleet, for the same reason: every refresh is N
   * sends of N links, N³ for the fleet (15 s up to 50 boxes, 30 s at 100, 5 min at 1000).
   */
  refreshPerBoxMs: number;
  /** Records a sender may send in a burst. */
  burst: number;
  /** Records per second a sender may send, sustained. */
  perSecond: number;
  /**
   * How long second-hand news waits before it is forwarded: newer records of an origin replace
   * older ones meanwhile, and pairs that meet meanwhile need none. Adds to how soon a box learns
   * of a pair it cannot reach directly (relaying), so it stays short of the dead-peer time.
   */
  forwardMs: number;
  /**
   * How long second-hand news of an origin waits for the origin and the peer to meet: a pair
   * that gets a session within it hears everything first-hand and needs none. Only a pair still
   * apart after it (blocked, behind NATs, one end down) is sent the origin's record. Routes need
   * that news only for pairs whose direct dials gave up (`RELAY_TIMING.directFirstMs`, 20 s),
   * so it stays well below that.
   */
  meetMs: number;
  /**
   * ... and at least this much per box of the fleet, up to `meetMaxMs`: a big fleet on a small
   * box takes minutes to converge, and with a fixed 5 s a 100-box lab forwarded each box about
   * 2,500 records of 99 links (two thirds of its gossip) to pairs that met soon after anyway.
   * 5 s up to 50 boxes, 10 s at 100.
   */
  meetPerBoxMs: number;
  /** Longest wait for a pair to meet: the news still arrives before relays may open. */
  meetMaxMs: number;
  /** Least spacing of two second-hand sends of one origin's records to one peer. */
  reforwardMs: number;
  /**
   * ... and at least this much per box of the fleet (5 s up to 25 boxes, 20 s at 100, 200 s
   * at 1000): a pair that stays apart hears each change of the other's record, but each of
   * the origin's N links costs every forwarder a send per spacing.
   */
  reforwardPerBoxMs: number;
}

/** Default timing. */
export const GOSSIP_TIMING: GossipTiming = {
  minAnnounceMs: 2000,
  announcePerBoxMs: 100,
  refreshMs: 15_000,
  refreshPerBoxMs: 300,
  burst: 256,
  perSecond: 64,
  forwardMs: 1000,
  meetMs: 5000,
  meetPerBoxMs: 100,
  meetMaxMs: 15_000,
  reforwardMs: 5000,
  reforwardPerBoxMs: 200,
};

/** Counters of the gossip (status and metrics). */
export interface GossipCounters {
  recordsIn: number;
  recordsNew: number;
  recordsStale: number;
  recordsOut: number;
  dropped: Record<RecordDropReason, number>;
}

/** What the gossip needs from the agent. */
export interface GossipOptions {
  self: string;
  /** Every peer name of the fleet, this box included. */
  fleet: ReadonlySet<string>;
  /** Sends on the peer's session; false when there is none. */
  send: (peer: string, msg: ControlMessage) => boolean;
  /** Peers with a session now. */
  sessions: () => readonly string[];
  /** Called after the graph changed. */
  onChange?: () => void;
  clock?: Clock;
  timing?: GossipTiming;
  /** Dropped input is logged here (at debug level by the caller). */
  onDrop?: (from: string, reason: RecordDropReason, detail: string) => void;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** One box's end of the gossip. */
export class TopologyGossip {
  readonly graph = new TopologyGraph();
  readonly counters: GossipCounters = {
    recordsIn: 0,
    recordsNew: 0,
    recordsStale: 0,
    recordsOut: 0,
    dropped: {
      "malformed": 0,
      "unknown-origin": 0,
      "unknown-peer": 0,
      "too-many-links": 0,
      "rate": 0,
      "self-origin": 0,
      "future-seq": 0,
    },
  };
  #o: Required<Omit<GossipOptions, "onChange" | "onDrop">> & GossipOptions;
  #fleet: ReadonlySet<string>;
  #seq = 0;
  #lastAnnounce = -Infinity;
  #announceTimer: (() => void) | null = null;
  #refreshTimer: (() => void) | null = null;
  #buckets = new Map<string, Bucket>();
  /** Per peer: the origins whose newest record it is due second-hand. */
  #outbox = new Map<string, Set<string>>();
  /** Per peer: origin → the seq last sent to it on its current session. */
  #sent = new Map<string, Map<string, number>>();
  #forwardTimer: (() => void) | null = null;
  /** When the pending forward runs (meaningful while `#forwardTimer` is set). */
  #forwardAt = 0;
  /** Per pair (`origin peer`): since when this box has news for them while they are apart. */
  #apartSince = new Map<string, number>();
  /** Per peer: origin → when a record of it was last sent to the peer second-hand. */
  #forwardedAt = new Map<string, Map<string, number>>();
  #stopped = false;
  #latest: Link[] = [];

  constructor(o: GossipOptions) {
    this.#o = { ...o, clock: o.clock ?? systemClock, timing: o.timing ?? GOSSIP_TIMING };
    this.#fleet = o.fleet;
    this.#seq = nextSeq(0, this.#o.clock.now());
    this.graph.merge({ origin: o.self, seq: this.#seq, links: [] });
  }

  /** Starts the anti-entropy timer. */
  start(): void {
    this.#scheduleRefresh();
  }

  /** Stops all timers. */
  stop(): void {
    this.#stopped = true;
    this.#announceTimer?.();
    this.#refreshTimer?.();
    this.#forwardTimer?.();
    this.#outbox.clear();
  }

  /** The fleet changed (reload): forget boxes no longer in it. */
  setFleet(fleet: ReadonlySet<string>): void {
    this.#fleet = fleet;
    this.graph.retain(fleet);
    for (const m of [this.#buckets, this.#outbox, this.#sent, this.#forwardedAt]) {
      for (const p of m.keys()) if (!fleet.has(p)) m.delete(p);
    }
    for (const key of this.#apartSince.keys()) {
      const [origin, peer] = key.split(" ");
      if (!fleet.has(origin) || !fleet.has(peer)) this.#apartSince.delete(key);
    }
    this.#o.onChange?.();
  }

  /**
   * This box's sessions as they are now. A change of the sessions is announced; a change of
   * RTT or of a down link's reason alone is not (it would re-announce every heartbeat, every
   * failed dial) but rides on the next announcement or refresh.
   */
  setLocalLinks(links: readonly Link[]): void {
    const sorted = [...links].filter((l) => this.#fleet.has(l.peer) && l.peer !== this.#o.self)
      .sort((a, b) => a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0);
    this.#latest = sorted;
    const held = this.graph.record(this.#o.self)!;
    if (shape(sorted) === shape(held.links)) return;
    this.#publish(sorted);
    this.#announceSoon();
  }

  #publish(links: Link[]): void {
    const held = this.graph.record(this.#o.self)!;
    this.#seq = nextSeq(Math.max(this.#seq, held.seq), this.#o.clock.now());
    this.graph.merge({ origin: this.#o.self, seq: this.#seq, links });
    this.#o.onChange?.();
  }

  /** A session came up: give the peer everything this box knows that it cannot hear itself. */
  sessionUp(peer: string): void {
    this.#sent.delete(peer);
    this.#sendOwn(peer);
    for (const r of this.graph.records()) if (r.origin !== this.#o.self) this.#due(peer, r.origin);
  }

  /** True for the message types this protocol owns. */
  static owns(msg: ControlMessage): boolean {
    return msg.type === TOPOLOGY_MESSAGE_TYPE;
  }

  /** A record from a peer's session. */
  receive(from: string, msg: ControlMessage): void {
    if (!this.#charge(from)) return this.#drop(from, "rate", "more records than the rate allows");
    const parsed = parseRecord(msg, this.#fleet);
    if (!parsed.ok) return this.#drop(from, parsed.reason, parsed.detail);
    const r = parsed.record;
    this.counters.recordsIn++;
    if (r.origin === this.#o.self) {
      // Our own record coming back is normal flooding; a newer one than we sent is a forgery
      // or a previous run of this box: either way only this box speaks for itself.
      if (r.seq > this.#seq) this.#drop(from, "self-origin", `record for ${r.origin} seq ${r.seq}`);
      else this.counters.recordsStale++;
      return;
    }
    // First-hand (the origin's own session) outranks second-hand; while the origin has a session
    // with this box, what others relay about it is ignored, so no neighbour can forge it here.
    const firstHand = r.origin === from;
    if (!firstHand && this.#o.sessions().includes(r.origin)) {
      this.counters.recordsStale++;
      return;
    }
    if (!firstHand && r.seq > (this.#o.clock.now() + MAX_FUTURE_SEQ_MS) * 1000) {
      return this.#drop(
        from,
        "future-seq",
        `record for ${r.origin} seq ${r.seq} is from the future`,
      );
    }
    if ((firstHand ? this.graph.replace(r) : this.graph.merge(r)) === "stale") {
      this.counters.recordsStale++;
      return;
    }
    this.counters.recordsNew++;
    this.#o.onChange?.();
    for (const p of this.#o.sessions()) if (p !== from && p !== r.origin) this.#due(p, r.origin);
  }

  /** The edges of the graph now. */
  edges(): readonly Edge[] {
    return this.graph.edges();
  }

  #drop(from: string, reason: RecordDropReason, detail: string): void {
    this.counters.dropped[reason]++;
    this.#o.onDrop?.(from, reason, detail);
  }

  /** Token bucket per sender: `burst` at once, `perSecond` sustained. */
  #charge(from: string): boolean {
    const t = this.#o.timing;
    const now = this.#o.clock.now();
    const b = this.#buckets.get(from) ?? { tokens: t.burst, at: now };
    b.tokens = Math.min(t.burst, b.tokens + ((now - b.at) / 1000) * t.perSecond);
    b.at = now;
    this.#buckets.set(from, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** This box's newest record, to the peer, now. */
  #sendOwn(peer: string): void {
    const own = this.graph.record(this.#o.self)!;
    if (!this.#o.send(peer, recordMessage(own))) return;
    this.counters.recordsOut++;
    let sent = this.#sent.get(peer);
    if (!sent) this.#sent.set(peer, sent = new Map());
    sent.set(this.#o.self, own.seq);
  }

  /** The peer is due the newest record of `origin` second-hand (at the next forward, if news). */
  #due(peer: string, origin: string): void {
    if (this.#stopped) return;
    this.#addDue(peer, origin);
    this.#forwardBy(this.#o.clock.now() + this.#o.timing.forwardMs);
  }

  /** Puts `origin` in the peer's outbox. */
  #addDue(peer: string, origin: string): void {
    let box = this.#outbox.get(peer);
    if (!box) this.#outbox.set(peer, box = new Set());
    box.add(origin);
  }

  /** Runs the forward at `at` at the latest (sooner if one is pending sooner). */
  #forwardBy(at: number): void {
    if (this.#stopped || (this.#forwardTimer && this.#forwardAt <= at)) return;
    this.#forwardTimer?.();
    this.#forwardAt = at;
    this.#forwardTimer = this.#o.clock.after(
      Math.max(0, at - this.#o.clock.now()),
      () => this.#expireForward(),
    );
  }

  /**
   * The forward delay ran out: send each peer the news it is due and does not have, once the
   * pair has stayed apart for `meetMs` and at most once per `reforwardMs` per origin; news held
   * back for either stays due. (While a fleet of N converges, sending every change of every
   * record to every pair not yet met was N³ records of N links: a 50-box lab spent most of its
   * CPU parsing them and never converged.)
   */
  #expireForward(): void {
    this.#forwardTimer = null;
    const now = this.#o.clock.now();
    const t = this.#o.timing;
    const boxes = this.#outbox;
    this.#outbox = new Map();
    const nb = this.#neighbours();
    const { meetMs, reforwardMs } = scaledForwardTiming(t, this.#fleet.size);
    let next = Infinity;
    for (const [peer, origins] of boxes) {
      let sent = this.#sent.get(peer);
      if (!sent) this.#sent.set(peer, sent = new Map());
      let forwarded = this.#forwardedAt.get(peer);
      if (!forwarded) this.#forwardedAt.set(peer, forwarded = new Map());
      for (const origin of origins) {
        const r = this.graph.record(origin);
        if (!r || origin === peer || (sent.get(origin) ?? 0) >= r.seq) continue;
        const pair = `${origin} ${peer}`;
        if (nb.get(origin)?.has(peer)) {
          this.#apartSince.delete(pair);
          continue;
        }
        const apart = this.#apartSince.get(pair) ?? now;
        this.#apartSince.set(pair, apart);
        const at = Math.max(apart + meetMs, (forwarded.get(origin) ?? -Infinity) + reforwardMs);
        if (at > now) {
          this.#addDue(peer, origin);
          next = Math.min(next, at);
          continue;
        }
        if (!this.#forwards(origin, peer, nb)) continue;
        if (!this.#o.send(peer, recordMessage(r))) break;
        sent.set(origin, r.seq);
        forwarded.set(origin, now);
        this.counters.recordsOut++;
      }
    }
    if (next < Infinity) this.#forwardBy(next);
  }

  /**
   * Is this box one of those that pass `origin`'s news on to `peer`? Every box with a session
   * to both would otherwise send the peer each new record: N senders for each of the N² pairs
   * not yet met while a fleet converges. Of the boxes this one sees linked to both, the
   * `FORWARDERS_PER_PAIR` ranked first (by a hash of the pair and their name, so the work
   * spreads) forward. A box that heard the news second-hand itself passes it on only where it
   * sees nobody linked to both (news more than one hop from its origin).
   */
  #forwards(origin: string, peer: string, nb: Neighbours): boolean {
    const self = this.#o.self;
    const ofOrigin = nb.get(origin) ?? NO_NEIGHBOURS;
    const ofPeer = nb.get(peer) ?? NO_NEIGHBOURS;
    const oneHop = ofOrigin.has(self) && ofPeer.has(self);
    const mine = forwarderRank(origin, peer, self);
    // The boxes linked to both: walk the smaller side, look each up in the other.
    const [small, large] = ofOrigin.size <= ofPeer.size ? [ofOrigin, ofPeer] : [ofPeer, ofOrigin];
    let ahead = 0;
    for (const b of small) {
      if (b === self || b === origin || b === peer || !large.has(b) || !this.#fleet.has(b)) {
        continue;
      }
      if (!oneHop) return false;
      if (forwarderRank(origin, peer, b) < mine && ++ahead >= FORWARDERS_PER_PAIR) return false;
    }
    return true;
  }

  /**
   * Who is linked with whom, as the held records say (either end's record listing a live
   * session links the pair: news of one reaches the other), built once per forward run. Asking
   * the records pair by pair for every box of the fleet made each run O(N³) lookups for N² due
   * pairs (a converging 100-agent lab: a sixth of an agent's CPU in this loop).
   */
  #neighbours(): Neighbours {
    const nb: Neighbours = new Map();
    const add = (a: string, b: string) => {
      let set = nb.get(a);
      if (!set) nb.set(a, set = new Set());
      set.add(b);
    };
    for (const r of this.graph.allRecords()) {
      for (const l of r.links) {
        if (l.state === "down" || l.peer === r.origin) continue;
        add(r.origin, l.peer);
        add(l.peer, r.origin);
      }
    }
    return nb;
  }

  #announceSoon(): void {
    if (this.#announceTimer || this.#stopped) return;
    const t = this.#o.timing;
    const spacing = Math.max(t.minAnnounceMs, t.announcePerBoxMs * this.#fleet.size);
    const wait = Math.max(0, this.#lastAnnounce + spacing - this.#o.clock.now());
    this.#announceTimer = this.#o.clock.after(wait, () => this.#expireAnnounce());
  }

  /** The announcement delay ran out: send this box's newest record to every session. */
  #expireAnnounce(): void {
    this.#announceTimer = null;
    this.#lastAnnounce = this.#o.clock.now();
    // Our own record always goes out again, also when unchanged: that is how a lost one heals.
    for (const p of this.#o.sessions()) this.#sendOwn(p);
  }

  #scheduleRefresh(): void {
    if (this.#stopped) return;
    const t = this.#o.timing;
    const period = Math.max(t.refreshMs, t.refreshPerBoxMs * this.#fleet.size);
    this.#refreshTimer = this.#o.clock.after(period, () => this.#expireRefresh());
  }

  /** Anti-entropy: re-send this box's record, so a lost or refused one heals. */
  #expireRefresh(): void {
    this.#refreshTimer = null;
    // A new seq floods the fleet (n² sends per record); the same one stops at the neighbours. So
    // only an RTT that moved by more than `RTT_REPUBLISH`, or a down link's new reason, gets one.
    const held = this.graph.record(this.#o.self)!;
    if (rttMoved(held.links, this.#latest) || whyMoved(held.links, this.#latest)) {
      this.#publish(this.#latest);
    }
    this.#announceSoon();
    this.#scheduleRefresh();
  }
}

/** How long second-hand news waits for a pair to meet, and its spacing, in a fleet of `boxes`. */
export function scaledForwardTiming(
  t: GossipTiming,
  boxes: number,
): { meetMs: number; reforwardMs: number } {
  return {
    meetMs: Math.min(t.meetMaxMs, Math.max(t.meetMs, t.meetPerBoxMs * boxes)),
    reforwardMs: Math.max(t.reforwardMs, t.reforwardPerBoxMs * boxes),
  };
}

/**
 * Boxes that pass one origin's news to one peer, where several could: two, so that one whose
 * session just ended (and whose record still says otherwise) is not the only one.
 */
export const FORWARDERS_PER_PAIR = 2;

/** A box's rank as forwarder of `origin`'s news to `peer`: FNV-1a over the three names. */
export function forwarderRank(origin: string, peer: string, box: string): number {
  let h = 0x811c9dc5;
  const text = `${origin} ${peer} ${box}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** An RTT change that earns a new seq: more than this fraction and more than `floorMs`. */
export const RTT_REPUBLISH = { fraction: 0.25, floorMs: 0.5 };

/** Did any RTT move enough (or appear) between the held links and the latest? */
export function rttMoved(held: readonly Link[], latest: readonly Link[]): boolean {
  const before = new Map(held.map((l) => [l.peer, l.rttMs]));
  return latest.some((l) => {
    const was = before.get(l.peer);
    if (l.rttMs === undefined) return false;
    if (was === undefined) return true;
    const d = Math.abs(l.rttMs - was);
    return d > RTT_REPUBLISH.floorMs && d > RTT_REPUBLISH.fraction * was;
  });
}

/**
 * What makes a new version of this box's record: the state and endpoint of each link, not why a
 * down one is down. While a fleet converges, every dial that fails rewrites some peer's reason
 * ("connection refused", "handshake did not complete in 8.3 s"): with it in the shape, each of
 * 100 boxes republished its record of 99 links to every session at every announcement spacing,
 * on a 2-core lab box about a core of parsing and wake-ups. A reason rides on the next version,
 * and the anti-entropy refresh publishes reasons that changed (`whyMoved`).
 */
function shape(links: readonly Link[]): string {
  return JSON.stringify(links.map((l) => [l.peer, l.state, l.endpoint ?? ""]));
}

/** Did the reason of any down link change since the record this box holds of itself? */
export function whyMoved(held: readonly Link[], latest: readonly Link[]): boolean {
  const before = new Map(held.map((l) => [l.peer, l.why]));
  return latest.some((l) => l.why !== before.get(l.peer));
}
