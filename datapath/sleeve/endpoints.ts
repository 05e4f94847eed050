/**
 * The endpoints the packet worker learned (#15), as the main thread keeps them: one event per
 * move, with the endpoint before it, for the owner's log and `status`.
 *
 * @module
 */

import { formatHostPort, formatIp, parseIp } from "../../config/mod.ts";

/** A peer's learned UDP endpoint (see `SleeveOptions.onEndpoint`). */
export interface SleeveEndpointEvent {
  peer: string;
  /** Canonical IP address. */
  address: string;
  port: number;
  /** The endpoint before (`address:port` text), or null: none was known. */
  previous: string | null;
  /** When it was learned (ms since the epoch). */
  at: number;
}

/** One line for the log. */
export function endpointText(e: SleeveEndpointEvent): string {
  return `endpoint of ${e.peer} is now ${formatHostPort(e.address, e.port)}` +
    (e.previous ? ` (was ${e.previous})` : "");
}

/** The last learned endpoint per peer. */
export class LearnedEndpoints {
  readonly #byPeer = new Map<string, SleeveEndpointEvent>();

  /** The worker says `peer` moved to `address` (its text) and `port`; null if unparsable. */
  moved(peer: string, address: string, port: number, now = Date.now()): SleeveEndpointEvent | null {
    const ip = parseIp(address);
    if (!ip) return null;
    const before = this.#byPeer.get(peer);
    const e: SleeveEndpointEvent = {
      peer,
      address: formatIp(ip),
      port,
      previous: before ? formatHostPort(before.address, before.port) : null,
      at: now,
    };
    this.#byPeer.set(peer, e);
    return e;
  }

  delete(peer: string): void {
    this.#byPeer.delete(peer);
  }

  snapshot(): Map<string, SleeveEndpointEvent> {
    return new Map(this.#byPeer);
  }
}
