/**
 * Relaying as the agent runs it (#16): the relay service on the control sessions, hole punching
 * on the sleeve, and what each pair's sleeve entry gets from both. agent.ts calls it on session
 * events and sleeve endpoint events, and asks it for a peer's relay fields whenever it pushes
 * that peer to the sleeve.
 *
 * @module
 */

import { formatHostPort, hasFixedAddress } from "../../config/mod.ts";
import type { Peer } from "../../config/types.ts";
import { type ControlMessage, everyOnGrid, type Logger } from "../control/mod.ts";
import type { Sleeve } from "../../datapath/sleeve/mod.ts";
import {
  relayPolicies,
  type TopologyService,
  type TopologyServiceOptions,
} from "../topology/mod.ts";
import { HolePunch, parseEndpoint } from "./hole_punch.ts";
import { collidingIds } from "./relay_ids.ts";
import { type RelayControl, type RelayControlView, RelayService } from "./relay_service.ts";
import { type SleeveRelayFields, sleeveRelayFields } from "./relay_sleeve.ts";

/** How often hole punching looks at its pairs. */
export const PUNCH_TICK_MS = 500;

/** What the agent gives. */
export interface RelayAgentOptions {
  self: string;
  log: Logger;
  sleeve: () => Sleeve | null;
  /** Pushes the peer's sleeve entry again (its relay fields changed). */
  pushPeer: (peer: string) => void;
  /** Where this box's sleeve sees a peer now, or null. */
  endpointOf: (peer: string) => { address: string; port: number } | null;
  /** How late this process's timers run now, ms (relays are held back while it is high). */
  loopLag?: () => number;
}

/** What `status` shows of relaying, per peer: how its sleeve datagrams travel. */
export type SleevePath = "direct" | "direct (punched)" | `via ${string}`;

/** The agent's relaying parts. */
export class RelayAgent {
  #vias = new Map<string, string>();
  #service: RelayService | null = null;
  #topology: TopologyService | null = null;
  #peers: readonly Peer[] = [];
  /** Peers with a fixed address, by name: asked for every link of every local-links read. */
  #fixed = new Map<string, { address: string; port: number }>();
  readonly #punch: HolePunch;
  /** Stops the punch tick. */
  #timer: (() => void) | null = null;

  constructor(private readonly o: RelayAgentOptions) {
    this.#punch = new HolePunch({
      candidate: (peer, via) => this.#candidate(peer, via),
      probe: (peer, at) => {
        o.log.debug("hole punching: probe", { peer, at: formatHostPort(at.address, at.port) });
        try {
          o.sleeve()?.punch(peer, at.address, at.port).catch(() => {});
        } catch (e) {
          o.log.debug("punch not sent", { peer, error: `${e}` });
        }
      },
      straightIn: (peer) => {
        const c = o.sleeve()?.counters().peers[peer];
        return c ? c.rxPackets + c.keepalivesIn - c.rxRelayed : 0;
      },
      changed: (peer) => {
        o.pushPeer(peer);
        this.#topology?.sessionChanged();
      },
      log: (msg, fields) => o.log.info(msg, fields),
    });
  }

  /** The topology's hooks for gossiping endpoints and punched links. */
  topologyHooks(): Pick<TopologyServiceOptions, "endpoint" | "punched"> {
    return {
      endpoint: (peer) => {
        // A peer at a fixed address is sent to there whatever any box sees, and every box
        // knows that address from weave.yaml: gossiped, it said nothing, and it was a third of
        // a converged record's bytes (≈ 30 of 80 per link), sent N² times per announcement.
        if (this.#fixedEndpoint(peer)) return null;
        const e = this.o.endpointOf(peer);
        return e && e.address !== "" ? formatHostPort(e.address, e.port) : null;
      },
      punched: (peer) => this.#punch.punched(peer),
    };
  }

  /** (Re)starts relaying on the sessions of `control` (a start, or sessions restarted). */
  start(control: RelayControl, topology: TopologyService, peers: readonly Peer[]): void {
    this.stop();
    this.#topology = topology;
    this.#setPeers(peers);
    const colliding = collidingIds(peers.map((p) => p.name));
    if (colliding.length) {
      this.o.log.warn("peers share a relay id: their relayed datagrams may go astray", {
        peers: colliding.join(","),
      });
    }
    this.#service = new RelayService({
      self: this.o.self,
      peers: peers.map((p) => p.name),
      policy: relayPolicies(peers),
      control,
      edges: () => topology.gossip.edges(),
      log: this.o.log,
      loopLag: this.o.loopLag,
    });
    this.#service.start();
    this.#timer = everyOnGrid(PUNCH_TICK_MS, () => this.#punch.tick(Date.now()));
  }

  stop(): void {
    this.#service?.stop();
    this.#service = null;
    this.#timer?.();
    this.#timer = null;
    for (const peer of [...this.#vias.keys()]) this.#punch.setRelayed(peer, null, Date.now());
    this.#vias.clear();
  }

  /** The fleet changed (reload). */
  reconfigure(peers: readonly Peer[]): void {
    this.#setPeers(peers);
    this.#service?.reconfigure(peers.map((p) => p.name), relayPolicies(peers));
  }

  /** True for the messages the relay owns. */
  owns(msg: ControlMessage): boolean {
    return RelayService.owns(msg);
  }

  receive(from: string, msg: ControlMessage): void {
    this.#service?.receive(from, msg);
  }

  /** A session came up, relayed through `via` or direct. */
  sessionUp(peer: string, via: string | null): void {
    if (via) this.#vias.set(peer, via);
    else this.#vias.delete(peer);
    this.#punch.setRelayed(peer, via, Date.now());
  }

  sessionDown(peer: string): void {
    this.#vias.delete(peer);
    this.#punch.setRelayed(peer, null, Date.now());
    this.#service?.sessionDown(peer);
  }

  /** The sleeve learned the peer's endpoint from an authentic datagram (#15). */
  endpointLearned(peer: string): void {
    // Relayed datagrams never move an endpoint: for a relayed pair this one came straight.
    if (this.#vias.has(peer)) this.#punch.straightFrom(peer, Date.now());
  }

  /** The relay fields of the peer's sleeve entry, and its keepalive period while punched. */
  sleeveFields(peer: string): SleeveRelayFields & { keepaliveMs: number | null } {
    const relay = this.#peers.find((p) => p.name === this.#vias.get(peer));
    const punched = this.#punch.punched(peer);
    const fields = sleeveRelayFields(
      this.o.self,
      peer,
      relay && !punched ? this.o.endpointOf(relay.name) : null,
      relayPolicies(this.#peers),
    );
    return { ...fields, keepaliveMs: punched ? this.#punch.timing.keepaliveMs : null };
  }

  /** How the peer's sleeve datagrams travel. */
  sleevePath(peer: string): SleevePath {
    const via = this.#vias.get(peer);
    if (!via) return "direct";
    return this.#punch.punched(peer) ? "direct (punched)" : `via ${via}`;
  }

  view(): RelayControlView | null {
    return this.#service?.view() ?? null;
  }

  /** A candidate endpoint of `peer`: where the relay sees it, else where anyone does. */
  #candidate(peer: string, via: string): { address: string; port: number } | null {
    const records = this.#topology?.gossip.graph.records() ?? [];
    const seen = (origin: string) =>
      records.find((r) => r.origin === origin)?.links.find((l) => l.peer === peer)?.endpoint;
    const text = seen(via) ??
      records.flatMap((r) => r.links.filter((l) => l.peer === peer && l.endpoint))[0]?.endpoint;
    return text ? parseEndpoint(text) : this.#fixedEndpoint(peer);
  }

  /** The peer's address and port from weave.yaml, when it has a fixed one (not gossiped). */
  #fixedEndpoint(peer: string): { address: string; port: number } | null {
    return this.#fixed.get(peer) ?? null;
  }

  #setPeers(peers: readonly Peer[]): void {
    this.#peers = peers;
    this.#fixed = new Map(
      peers.flatMap((p) =>
        hasFixedAddress(p) ? [[p.name, { address: p.address, port: p.port }]] : []
      ),
    );
  }
}
