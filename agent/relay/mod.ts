/**
 * Relays (#16): a pair with no direct session talks through peers both reach. Its control
 * session is the normal v2 handshake and sealed channel, end to end, carried as opaque
 * `relay` messages inside the relays' own sealed sessions; its sleeve datagrams, sealed under
 * the pair's keys, travel behind a relay header through the relays' sleeves
 * (datapath/sleeve/worker/relay.ts). A relay learns sizes and timing, nothing else.
 *
 * - `relay_message.ts` the relay's control messages and the check of input from peers
 * - `relay_stream.ts`  one relayed session's byte stream at one end
 * - `relay_policy.ts`  who may relay for whom (`relay:` / `relays:`)
 * - `relay_ids.ts`     fleet-wide ids of boxes for the sleeve's relay header
 * - `relay_sleeve.ts`  the sleeve's relay fields of a peer
 * - `relay_service.ts` opening, forwarding and delivering relayed streams; counters
 *
 * What it may import: `config/` (names, types), `agent/control/mod.ts`, `agent/topology/mod.ts`
 * and the npm hash module. The agent wires it to the sessions and the sleeve.
 *
 * @module
 */

export * from "./relay_message.ts";
export * from "./relay_stream.ts";
export * from "./relay_policy.ts";
export * from "./relay_ids.ts";
export * from "./relay_sleeve.ts";
export * from "./relay_service.ts";
export * from "./hole_punch.ts";
export * from "./relay_agent.ts";
