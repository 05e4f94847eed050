/**
 * One origin's news in the topology gossip: the sessions a box has, stamped with a per-origin
 * sequence number, as it travels on the sealed control sessions, and the check every record
 * read from the network passes before it reaches the graph.
 *
 * Wire form (JSON on the sealed control session, one record per message):
 * `{"type":"topology","origin":"a","seq":1764622179000000,"links":[{"peer":"b","state":"direct",
 * "rttMs":0.4},{"peer":"c","state":"down","why":"connection refused"}]}`
 *
 * @module
 */

import type { ControlMessage } from "../control/mod.ts";
import { checkPeerName } from "../../config/names.ts";

/** The control message type of a gossiped record. */
export const TOPOLOGY_MESSAGE_TYPE = "topology";

/** What an origin says about its session with one peer. */
export type LinkState = "direct" | "punched" | "relayed" | "down";

const LINK_STATES: readonly LinkState[] = ["direct", "punched", "relayed", "down"];

/** True for the link states of the wire format. */
export function isLinkState(v: unknown): v is LinkState {
  return LINK_STATES.some((s) => s === v);
}

/** One session (or its absence) as the origin reports it. */
export interface Link {
  peer: string;
  state: LinkState;
  /** Control-session round trip in ms, when the origin measured one. */
  rttMs?: number;
  /** Why a `down` link is down (the origin's last session error), bounded. */
  why?: string;
  /**
   * Where the origin's sleeve sees the peer (`ip:port`, learned from its authenticated
   * datagrams, #15): for a peer behind NAT, its public endpoint, which two boxes relayed through
   * this origin try for hole punching (#16).
   */
  endpoint?: string;
}

/** One origin's whole view of its own sessions; a newer `seq` replaces the record whole. */
export interface TopologyRecord {
  origin: string;
  /** Per-origin version: strictly increasing across the origin's restarts (see `nextSeq`). */
  seq: number;
  links: Link[];
}

/** Most links one record may carry: more than any fleet this agent is meant for. */
export const MAX_LINKS_PER_RECORD = 1024;
/** Longest `why` kept from the network. */
export const MAX_WHY_LENGTH = 200;
/** Largest RTT taken from the network (a minute); larger values are dropped. */
export const MAX_RTT_MS = 60_000;

/** An endpoint as `formatHostPort` writes it: `192.0.2.1:6783` or `[2001:db8::1]:6783`. */
const ENDPOINT_TEXT = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]{2,45}\]):\d{1,5}$/;

/** Why a record from the network was dropped. */
export type RecordDropReason =
  | "malformed"
  | "unknown-origin"
  | "unknown-peer"
  | "too-many-links"
  | "rate"
  | "self-origin"
  | "future-seq";

/**
 * How far ahead of this box's clock a second-hand record's seq may be. A box that forges a high
 * seq for another origin can freeze that origin's record at most this long for boxes that do not
 * hear the origin first-hand (clocks of the fleet must agree this well; NTP does far better).
 */
export const MAX_FUTURE_SEQ_MS = 5 * 60_000;

/**
 * The next sequence number: microseconds of wall-clock time, or one more than the last if the
 * clock has not moved on. A restarted origin thus starts above what it sent before (as long as
 * its clock did not step back), so its new records are never taken for stale ones.
 */
export function nextSeq(previous: number, nowMs: number): number {
  return Math.max(previous + 1, Math.floor(nowMs) * 1000);
}

/** The record as a control message. */
export function recordMessage(r: TopologyRecord): ControlMessage {
  return { type: TOPOLOGY_MESSAGE_TYPE, origin: r.origin, seq: r.seq, links: r.links };
}

/** A parsed record, or why it was dropped. */
export type ParsedRecord = { ok: true; record: TopologyRecord } | {
  ok: false;
  reason: RecordDropReason;
  detail: string;
};

/**
 * Reads a record from the network. `fleet` is the set of peer names in force: a record about
 * (or from) a box the config does not know is dropped, so the graph stays bounded by the fleet.
 */
export function parseRecord(msg: ControlMessage, fleet: ReadonlySet<string>): ParsedRecord {
  const bad = (reason: RecordDropReason, detail: string): ParsedRecord => ({
    ok: false,
    reason,
    detail,
  });
  // A name of the fleet is a valid one (the config checked it); only others need the check.
  const outsider = (name: string, what: string, unknown: RecordDropReason, detail: string) =>
    checkPeerName(name) !== null
      ? bad("malformed", `${what} is not a peer name`)
      : bad(unknown, detail);
  const { origin, seq, links } = msg;
  if (typeof origin !== "string") return bad("malformed", "origin is not a peer name");
  if (!fleet.has(origin)) {
    return outsider(origin, "origin", "unknown-origin", `origin ${origin} is not in the fleet`);
  }
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    return bad("malformed", "seq is not a positive integer");
  }
  if (!Array.isArray(links)) return bad("malformed", "links is not a list");
  if (links.length > MAX_LINKS_PER_RECORD) {
    return bad("too-many-links", `${links.length} links (at most ${MAX_LINKS_PER_RECORD})`);
  }
  const out: Link[] = [];
  const seen = new Set<string>();
  for (const l of links) {
    if (!l || typeof l !== "object" || Array.isArray(l)) return bad("malformed", "link not a map");
    // Read straight off the object JSON.parse made (own properties only, and the prototype has
    // none of these names), not from a copy of its entries; with the name check below, a
    // 99-link record takes 14 µs instead of 74 (measured), and a converging 100-box fleet reads
    // thousands of them a second.
    const { peer, state, rttMs, why, endpoint }: Record<string, unknown> = l;
    if (typeof peer !== "string") return bad("malformed", "link peer is not a peer name");
    if (!fleet.has(peer)) {
      return outsider(peer, "link peer", "unknown-peer", `link to ${peer}, not in the fleet`);
    }
    if (peer === origin || seen.has(peer)) return bad("malformed", `link to ${peer} repeated`);
    if (!isLinkState(state)) return bad("malformed", "link state unknown");
    seen.add(peer);
    const link: Link = { peer, state };
    if (typeof rttMs === "number" && Number.isFinite(rttMs) && rttMs >= 0 && rttMs <= MAX_RTT_MS) {
      link.rttMs = rttMs;
    }
    if (typeof why === "string") link.why = why.slice(0, MAX_WHY_LENGTH);
    if (typeof endpoint === "string" && ENDPOINT_TEXT.test(endpoint)) link.endpoint = endpoint;
    out.push(link);
  }
  out.sort((a, b) => a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0);
  return { ok: true, record: { origin, seq, links: out } };
}

/** Canonical text of a record: equal records, equal text (links sorted by peer). */
export function canonicalRecord(r: TopologyRecord): string {
  const links = [...r.links].sort((a, b) => a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0);
  return JSON.stringify({ origin: r.origin, seq: r.seq, links });
}
