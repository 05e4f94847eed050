/**
 * Where the sleeve sends to each peer, and which pairs need NAT keepalives (#15).
 *
 * A peer with a fixed IP address is sent to there (the sleeve still follows it if its
 * authenticated datagrams come from elsewhere). A peer without one (dial-out only, or given by
 * DNS name) is sent to where its control connection came from (for a box behind NAT: the NAT's
 * public address), at its configured port, until its first authenticated datagram says where
 * its NAT maps it; from then on the sleeve follows its last authenticated datagram. Every
 * change is logged once ("peer endpoint changed") and shown in `status`.
 *
 * Keepalives (`nat_keepalive:`) go only to pairs whose UDP path crosses a NAT: one end without
 * a fixed address, or a peer heard from elsewhere than its configured address. Other pairs get
 * none.
 *
 * @module
 */

import { formatHostPort, hasFixedAddress, parseIp } from "../config/mod.ts";
import { canonicalAddress } from "./control/mod.ts";
import type { Peer } from "../config/types.ts";
import type { SleeveEndpointEvent } from "../datapath/sleeve/mod.ts";
import type { Logger } from "./ops/log.ts";
import type { LearnedEndpoint } from "./status.ts";

/** Where the sleeve sends to a peer, and its keepalive period (0: none). */
export interface SleeveTarget {
  /** IP address, or "" while unknown (nothing is sent until the peer's first datagram). */
  address: string;
  port: number;
  keepaliveMs: number;
}

/**
 * Where this box listens (control TCP and sleeve UDP): its fixed address; a box without one
 * (dial-out only, or known to the others by DNS name) listens on every address of its family,
 * so that a renumbered underlay (a new DHCP lease) needs no restart (#15).
 */
export function listenAddressOf(self: Peer): string {
  if (hasFixedAddress(self)) return self.address;
  return self.family === 6 ? "::" : "0.0.0.0";
}

/** The learned endpoints of one agent. */
export class PeerEndpoints {
  readonly #learned = new Map<string, LearnedEndpoint>();

  constructor(private readonly log: Logger) {}

  /** What status shows. */
  view(): ReadonlyMap<string, LearnedEndpoint> {
    return this.#learned;
  }

  /** Forgets a peer (removed by reload, or its address in weave.yaml changed). */
  forget(name: string): void {
    this.#learned.delete(name);
  }

  /**
   * A control session with `peer` came up from `remote`: for a peer without a fixed address,
   * the sleeve's first guess of its endpoint. True when that changed what the sleeve is told.
   */
  fromControl(peer: Peer, remote: string): boolean {
    if (hasFixedAddress(peer)) return false;
    // Canonical, so a dual-stack socket's ::ffff:a.b.c.d is the a.b.c.d the sleeve sends to.
    const address = canonicalAddress(remote);
    if (!parseIp(address)) return false;
    const have = this.#learned.get(peer.name);
    // A datagram-learned endpoint at the same address knows the NAT's port: keep it.
    if (have && have.address === address) return false;
    this.#set(peer.name, { address, port: peer.port, source: "control" });
    return true;
  }

  /** The sleeve learned `e` from an authenticated datagram. True when the target changed. */
  fromSleeve(peer: Peer | undefined, e: SleeveEndpointEvent): boolean {
    if (!peer) return false;
    const have = this.#learned.get(peer.name);
    if (have?.address === e.address && have.port === e.port) {
      if (have.source === "sleeve") return false;
      have.source = "sleeve";
      return false;
    }
    const configured = hasFixedAddress(peer) && peer.address === e.address &&
      peer.port === e.port;
    if (configured && !have) return false;
    this.#set(peer.name, { address: e.address, port: e.port, source: "sleeve" });
    return true;
  }

  /** Where the sleeve sends to `peer`, seen from `self`, and its keepalive period. */
  target(self: Peer, peer: Peer, keepaliveMs: number): SleeveTarget {
    const learned = this.#learned.get(peer.name);
    const moved = learned !== undefined &&
      (!hasFixedAddress(peer) || learned.address !== peer.address || learned.port !== peer.port);
    const nat = !hasFixedAddress(self) || !hasFixedAddress(peer) || moved;
    const address = hasFixedAddress(peer) ? peer.address : learned?.address ?? "";
    const port = hasFixedAddress(peer) ? peer.port : learned?.port ?? peer.port;
    return { address, port, keepaliveMs: nat ? keepaliveMs : 0 };
  }

  #set(name: string, e: Omit<LearnedEndpoint, "previous" | "at">): void {
    const before = this.#learned.get(name);
    const previous = before ? formatHostPort(before.address, before.port) : null;
    const now = formatHostPort(e.address, e.port);
    this.#learned.set(name, { ...e, previous, at: Date.now() });
    this.log.info(previous ? "peer endpoint changed" : "peer endpoint learned", {
      peer: name,
      endpoint: now,
      previous: previous ?? "none",
      from: e.source === "sleeve" ? "authenticated datagram" : "control connection",
    });
  }
}
