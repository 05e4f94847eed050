/**
 * The topology gossip protocol, in the order a record travels:
 * 1. This box's sessions change (`setLocalLinks`): its own record gets a new `seq`; it is sent
 *    to every peer with a session at most once per `minAnnounceMs` (a flapping session cannot
 *    flood the fleet), and again every `refreshMs` as anti-entropy.
 * 2. A session comes up (`sessionUp`): the peer gets every record this box holds (full sync).
 * 3. A record arrives (`receive`): the sender's token bucket is charged (excess is dropped and
 *    counted), the record is checked (`parseRecord`; bad ones dropped and counted), merged into
 *    the graph; if it was news it is forwarded to every other peer with a session (flooding:
 *    each box forwards each record once, so n boxes send each record at most n·(n−1) times).
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
  type TopologyRecord,
} from "./record.ts";

/** Timing and bounds of the gossip. */
export interface GossipTiming {
  /** Least spacing of this box's own announcements. */
  minAnnounceMs: number;
  /** Period of the anti-entropy re-announcement of this box's own record. */
  refreshMs: number;
  /** Records a sender may send in a burst. */
  burst: number;
  /** Records per second a sender may send, sustained. */
  perSecond: number;
}

/** Default timing. */
export const GOSSIP_TIMING: GossipTiming = {
  minAnnounceMs: 200,
  refreshMs: 15_000,
  burst: 256,
  perSecond: 64,
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
  }

  /** The fleet changed (reload): forget boxes no longer in it. */
  setFleet(fleet: ReadonlySet<string>): void {
    this.#fleet = fleet;
    this.graph.retain(fleet);
    for (const p of this.#buckets.keys()) if (!fleet.has(p)) this.#buckets.delete(p);
    this.#o.onChange?.();
  }

  /**
   * This box's sessions as they are now. A change of the sessions is announced; a change of
   * RTT alone is not (it would re-announce every heartbeat) but rides on the next announcement.
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

  /** A session came up: give the peer everything this box knows. */
  sessionUp(peer: string): void {
    for (const r of this.graph.records()) {
      if (r.origin !== peer) this.#sendTo(peer, r);
    }
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
    for (const p of this.#o.sessions()) if (p !== from && p !== r.origin) this.#sendTo(p, r);
  }

  /** The edges of the graph now. */
  edges(): Edge[] {
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

  #sendTo(peer: string, r: TopologyRecord): void {
    if (this.#o.send(peer, recordMessage(r))) this.counters.recordsOut++;
  }

  #announceSoon(): void {
    if (this.#announceTimer || this.#stopped) return;
    const wait = Math.max(
      0,
      this.#lastAnnounce + this.#o.timing.minAnnounceMs - this.#o.clock.now(),
    );
    this.#announceTimer = this.#o.clock.after(wait, () => this.#expireAnnounce());
  }

  /** The announcement delay ran out: send this box's newest record to every session. */
  #expireAnnounce(): void {
    this.#announceTimer = null;
    this.#lastAnnounce = this.#o.clock.now();
    const own = this.graph.record(this.#o.self)!;
    for (const p of this.#o.sessions()) this.#sendTo(p, own);
  }

  #scheduleRefresh(): void {
    if (this.#stopped) return;
    this.#refreshTimer = this.#o.clock.after(this.#o.timing.refreshMs, () => this.#expireRefresh());
  }

  /** Anti-entropy: re-send this box's record, so a lost or refused one heals. */
  #expireRefresh(): void {
    this.#refreshTimer = null;
    // A new seq floods the fleet (n² sends per record); the same one stops at the neighbours. So
    // only an RTT that moved by more than `RTT_REPUBLISH` gets a new seq.
    const held = this.graph.record(this.#o.self)!;
    if (rttMoved(held.links, this.#latest)) this.#publish(this.#latest);
    this.#announceSoon();
    this.#scheduleRefresh();
  }
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

/** A link list without RTTs, as text: what decides whether sessions changed. */
function shape(links: readonly Link[]): string {
  return JSON.stringify(links.map((l) => [l.peer, l.state, l.why ?? "", l.endpoint ?? ""]));
}
