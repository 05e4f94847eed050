/**
 * The topology as the agent runs it: the gossip wired to the control sessions, this box's own
 * links read from the session layer's status, and the view `status` shows (routes, edges,
 * counters). The agent calls `sessionUp` / `sessionChanged` on session events, `receive` for
 * topology messages, and `view` for status.
 *
 * @module
 */

import type { Peer } from "../../config/types.ts";
import type { ControlMessage, PeerConnectionsStatus } from "../control/mod.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Edge } from "./graph.ts";
import { type GossipCounters, TopologyGossip } from "./gossip.ts";
import type { Link, RecordDropReason } from "./record.ts";
import { computeRoutes, type RelayPolicy, type Route } from "./routes.ts";

/** What `status` shows of the topology. */
export interface TopologyView {
  /** Every peer of the fleet, this box included, in config order. */
  peers: string[];
  edges: readonly Edge[];
  routes: Route[];
  /** Origins this box holds a record from. */
  origins: number;
  counters: GossipCounters;
}

/** What the service needs from the agent. */
export interface TopologyServiceOptions {
  self: string;
  /** Every peer name of the fleet, this box included, in config order. */
  peers: readonly string[];
  policy: ReadonlyMap<string, RelayPolicy>;
  send: (peer: string, msg: ControlMessage) => boolean;
  /** The session layer's status now (null while sessions restart). */
  control: () => PeerConnectionsStatus | null;
  /**
   * The peers with a session now. Asked for every record that arrives, so it must be cheap:
   * not derived from `control()`, which builds the whole status.
   */
  sessions: () => readonly string[];
  onDrop?: (from: string, reason: RecordDropReason, detail: string) => void;
  clock?: Clock;
  /** Where this box's sleeve sees a peer (`ip:port`), gossiped for hole punching (#16). */
  endpoint?: (peer: string) => string | null;
  /** The peer's session is relayed but its sleeve datagrams go straight (#16). */
  punched?: (peer: string) => boolean;
}

/** How often this box's own links are read again (state changes the events miss, RTTs). */
export const LOCAL_LINKS_POLL_MS = 2000;

/** The relay rules of the fleet, from weave.yaml (`relay:` default true, `relays:` default any). */
export function relayPolicies(peers: readonly Peer[]): Map<string, RelayPolicy> {
  return new Map(
    peers.map((p) => [p.name, { relay: p.relay !== false, relays: p.relays ?? null }]),
  );
}

/** This box's links as the session layer sees them (and, #16, its sleeve). */
export function localLinks(
  self: string,
  c: PeerConnectionsStatus | null,
  sleeve: Pick<TopologyServiceOptions, "endpoint" | "punched"> = {},
): Link[] {
  if (!c) return [];
  return Object.entries(c.peers).filter(([name]) => name !== self).map(([peer, p]): Link => {
    const endpoint = sleeve.endpoint?.(peer) ?? null;
    const at = endpoint ? { endpoint } : {};
    if (p.state !== "up") {
      return { peer, state: "down", ...(p.lastError ? { why: p.lastError } : {}), ...at };
    }
    // A session carried by relays (#16) is no edge routes go over; punched: its datagrams do.
    const state = !p.via ? "direct" : sleeve.punched?.(peer) ? "punched" : "relayed";
    // To 10 µs: `rttMoved` ignores anything under half a millisecond, and full float digits
    // were a tenth of every record's bytes.
    const rtt = p.rttMs !== null && !p.via ? { rttMs: Math.round(p.rttMs * 100) / 100 } : {};
    return { peer, state, ...rtt, ...at };
  });
}

/** The running topology of one agent. */
export class TopologyService {
  readonly gossip: TopologyGossip;
  #o: TopologyServiceOptions;
  #clock: Clock;
  #poll: (() => void) | null = null;
  #stopped = false;

  constructor(o: TopologyServiceOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.gossip = new TopologyGossip({
      self: o.self,
      fleet: new Set(o.peers),
      send: o.send,
      sessions: () => this.#sessions(),
      onDrop: o.onDrop,
      clock: o.clock,
    });
  }

  start(): void {
    this.gossip.start();
    this.#schedulePoll();
  }

  stop(): void {
    this.#stopped = true;
    this.#poll?.();
    this.gossip.stop();
  }

  /** The fleet changed (reload). */
  reconfigure(peers: readonly string[], policy: ReadonlyMap<string, RelayPolicy>): void {
    this.#o = { ...this.#o, peers, policy };
    this.gossip.setFleet(new Set(peers));
    this.sessionChanged();
  }

  #schedulePoll(): void {
    if (this.#stopped) return;
    this.#poll = this.#clock.after(LOCAL_LINKS_POLL_MS, () => this.#expirePoll());
  }

  /** The poll interval ran out: read this box's links again. */
  #expirePoll(): void {
    this.#poll = null;
    this.sessionChanged();
    this.#schedulePoll();
  }

  /** A session came up: full sync to it, and announce this box's new link. */
  sessionUp(peer: string): void {
    this.sessionChanged();
    this.gossip.sessionUp(peer);
  }

  /** Any session change (or a periodic look for new RTTs). */
  sessionChanged(): void {
    this.gossip.setLocalLinks(localLinks(this.#o.self, this.#o.control(), this.#o));
  }

  /** A topology message from a peer's session. */
  receive(from: string, msg: ControlMessage): void {
    this.gossip.receive(from, msg);
  }

  /** Routes, edges and counters now. */
  view(): TopologyView {
    const edges = this.gossip.edges();
    const c = this.#o.control();
    const localUp = new Set(
      Object.entries(c?.peers ?? {}).flatMap(([n, p]) => p.state === "up" && !p.via ? [n] : []),
    );
    return {
      peers: [...this.#o.peers],
      edges,
      routes: computeRoutes({
        self: this.#o.self,
        peers: this.#o.peers.filter((p) => p !== this.#o.self),
        localUp,
        edges,
        policy: this.#o.policy,
      }),
      origins: this.gossip.graph.records().length,
      counters: structuredClone(this.gossip.counters),
    };
  }

  #sessions(): readonly string[] {
    return this.#o.sessions();
  }
}
