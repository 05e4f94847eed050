/**
 * The sleeve's part of relaying (#16), from the config and the pair's session (pure): the
 * fleet-wide id of the relay header, where a relayed pair's datagrams go (the first relay of
 * its control session, at the endpoint this box's sleeve knows for it), and whether this box
 * forwards datagrams from and to the peer.
 *
 * @module
 */

import type { RelayPolicy } from "../topology/mod.ts";
import { relayId } from "./relay_ids.ts";

/** What `SleevePeer` takes for relaying. */
export interface SleeveRelayFields {
  relayId: number;
  via: { address: string; port: number } | null;
  relayFor: boolean;
}

/**
 * The relay fields of `peer`'s sleeve entry: `via` is where the relay its control session goes
 * through is (null: direct, or the relay's endpoint is not known); `relayFor` says this box may
 * forward for the peer (it relays, and the peer's `relays:` list, if any, names it).
 */
export function sleeveRelayFields(
  self: string,
  peer: string,
  via: { address: string; port: number } | null,
  policy: ReadonlyMap<string, RelayPolicy>,
): SleeveRelayFields {
  const peerRelays = policy.get(peer)?.relays ?? null;
  return {
    relayId: relayId(peer),
    via: via && via.address !== "" ? via : null,
    relayFor: policy.get(self)?.relay !== false &&
      (peerRelays === null || peerRelays.includes(self)),
  };
}
