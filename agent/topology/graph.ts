/**
 * The connectivity graph every agent builds from the gossip: the newest record per origin
 * (a newer `seq` replaces an origin's record whole; an older or equal one changes nothing), and
 * the edges both ends agree on. Merging is order-independent: the same set of records, in any
 * order, gives the same graph. Pure.
 *
 * @module
 */

import { canonicalRecord, type Link, type LinkState, type TopologyRecord } from "./record.ts";

/** What a merge did. */
export type MergeOutcome = "new" | "stale";

/** One undirected edge as both ends reported it. */
export interface Edge {
  /** The two ends, in name order. */
  a: string;
  b: string;
  /**
   * `direct` / `punched` when both ends report that session up; `relayed` when both say the pair
   * is carried by a relay; `down` otherwise (one end down, or the ends disagree).
   */
  state: LinkState;
  /** Mean of the RTTs the ends reported, when any. */
  rttMs: number | null;
  /** A down edge's reason, from whichever end gave one. */
  why: string | null;
}

/** The newest record per origin. */
export class TopologyGraph {
  #records = new Map<string, TopologyRecord>();
  /** `edges()` until a record changes: relays and status ask for them far more often. */
  #edges: readonly Edge[] | null = null;

  /** Takes `r` if it is newer than what this graph holds from its origin. */
  merge(r: TopologyRecord): MergeOutcome {
    const held = this.#records.get(r.origin);
    if (held && !newer(r, held)) return "stale";
    this.#set(r);
    return "new";
  }

  /**
   * Takes `r` whatever its seq: for a record heard first-hand from its origin, over the
   * origin's own authenticated session, which outranks anything relayed by others.
   */
  replace(r: TopologyRecord): MergeOutcome {
    const held = this.#records.get(r.origin);
    // An origin gives each version of its record a new seq, so only a record of the same seq
    // (an unchanged one sent again) needs the comparison of contents.
    if (held && held.seq === r.seq && canonicalRecord(held) === canonicalRecord(r)) return "stale";
    this.#set(r);
    return "new";
  }

  #set(r: TopologyRecord): void {
    this.#records.set(r.origin, r);
    this.#edges = null;
  }

  /** The record held from `origin`. */
  record(origin: string): TopologyRecord | undefined {
    return this.#records.get(origin);
  }

  /** Every record held, in no particular order (no copy, no sort). */
  allRecords(): IterableIterator<TopologyRecord> {
    return this.#records.values();
  }

  /** Every record, by origin name. */
  records(): TopologyRecord[] {
    return [...this.#records.values()].sort((x, y) => cmp(x.origin, y.origin));
  }

  /** Forgets origins no longer in the fleet (after a reload). */
  retain(fleet: ReadonlySet<string>): void {
    for (const o of this.#records.keys()) if (!fleet.has(o)) this.#records.delete(o);
    this.#edges = null;
  }

  /**
   * Edges of the graph, each once, in name order; the same array until a record changes.
   * O(links): each origin's links are indexed once (a fleet of N boxes holds N records of up to
   * N links each, so a lookup by scanning would make this N³).
   */
  edges(): readonly Edge[] {
    if (this.#edges) return this.#edges;
    const linksBy = new Map<string, Map<string, Link>>();
    for (const r of this.#records.values()) {
      linksBy.set(r.origin, new Map(r.links.map((l) => [l.peer, l])));
    }
    const out: Edge[] = [];
    for (const [origin, links] of linksBy) {
      for (const peer of links.keys()) {
        // Each pair once: from its smaller end, or from the only end that reports it.
        if (origin > peer && linksBy.get(peer)?.has(origin)) continue;
        const [a, b] = origin < peer ? [origin, peer] : [peer, origin];
        out.push(edgeOf(a, b, linksBy.get(a)?.get(b), linksBy.get(b)?.get(a)));
      }
    }
    this.#edges = Object.freeze(out.sort((x, y) => cmp(x.a, y.a) || cmp(x.b, y.b)));
    return this.#edges;
  }
}

/** Newer seq wins; an equal seq with other content is settled by canonical text, so any order agrees. */
function newer(r: TopologyRecord, held: TopologyRecord): boolean {
  if (r.seq !== held.seq) return r.seq > held.seq;
  return canonicalRecord(r) > canonicalRecord(held);
}

/** An edge is up only when both ends say so: one end alone (or a stale record) cannot make it. */
function edgeOf(a: string, b: string, ab: Link | undefined, ba: Link | undefined): Edge {
  const rtts = [ab?.rttMs, ba?.rttMs].filter((x): x is number => x !== undefined);
  const rttMs = rtts.length ? rtts.reduce((s, x) => s + x, 0) / rtts.length : null;
  const why = ab?.why ?? ba?.why ?? null;
  if (ab && ba && ab.state === ba.state) return { a, b, state: ab.state, rttMs, why };
  const one = ab ?? ba;
  const reason = why ??
    (ab && ba
      ? `${a} says ${ab.state}, ${b} says ${ba.state}`
      : `only ${one === ab ? a : b} reports it`);
  return { a, b, state: "down", rttMs: null, why: reason };
}

function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
