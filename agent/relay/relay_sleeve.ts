/**
 * The sleeve's part of relaying (#16), from the config and the pair's session (pure): the
 * fleet-wide ids of the relay header, where a relayed pair's datagrams go (the first relay of
 * its control session), and for which peers this box forwards datagrams.
 *
 * @module
 */

import type { Peer } from "../../config/types.ts";
import type { RelayPolicy } from "../topology/mod.ts";

import { relayId } from "./relay_ids.ts";

/** What `SleevePeer` takes for relaying. */
export interface SleeveRelayFields {
  relayId: number;
  via: { address: string; port: number } | null;
  relayFor: boolean;
}

/**
 * The relay fields of `peer`'s sleeve entry: `via` is the relay its control session goes
 * through (null: direct); `relayFor` says this box may forward for it (it relays, and the
 * peer's `relays:` list, if any, names it).
 */
export function sleeveRelayFields(
  self: string,
  peer: string,
  via: string | null,
  peers: readonly Peer[],
  policy: ReadonlyMap<string, RelayPolicy>,
): SleeveRelayFields {
  const relay = via === null ? undefined : peers.find((p) => p.name === via);
  // Any other end will do for the check: `mayRelay` asks the relay's and both ends' rules.
  const mine = policy.get(self);
  const peerRelays = policy.get(peer)?.relays ?? null;
  return {
    relayId: relayId(peer),
    via: relay ? { address: relay.address, port: relay.port } : null,
    relayFor: mine?.relay !== false && (peerRelays === null || peerRelays.includes(self)),
  };
}
