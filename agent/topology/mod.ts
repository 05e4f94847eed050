/**
 * Topology: what every box knows about the fleet's sessions, and what it decides from that.
 *
 * - `record.ts`  one origin's gossiped record, its wire form, and the check of input from peers
 * - `graph.ts`   the newest record per origin and the edges both ends agree on (pure)
 * - `routes.ts`  shortest healthy path per peer under the `relay:` / `relays:` rules (pure)
 * - `dot.ts`     the graph as Graphviz DOT (pure)
 * - `gossip.ts`  the protocol: announce, full sync on session up, flood news, rate-limit input
 *
 * What it may import: `config/` (names), `agent/clock.ts` (itself the control plane's clock), and
 * types from `agent/control/mod.ts`.
 * The agent wires it to the sessions; nothing here touches the network itself.
 *
 * @module
 */

export * from "./record.ts";
export * from "./graph.ts";
export * from "./routes.ts";
export * from "./dot.ts";
export * from "./gossip.ts";
export * from "./service.ts";
