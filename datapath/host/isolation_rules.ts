/**
 * Isolation between networks on one box. Each network is its own bridge, but Linux's weak host
 * model would still let a frame that arrives on one network's bridge reach an address the box
 * holds on another network, and IP forwarding would route between bridges. These rules keep
 * every network to itself: nothing arriving on `wvb-X` reaches a local address outside X, and
 * nothing is forwarded from one network's bridge to another's.
 *
 * Pure: returns the nft script for our own table; the planner puts it in the plan and the
 * applier loads it in one transaction.
 *
 * @module
 */

import { bridgeName } from "../link_names.ts";
import { deleteTableScript, ISOLATION_TABLE, tableScript } from "./nft_table.ts";

export { ISOLATION_TABLE };

/** One network as the isolation rules need it. */
export interface IsolatedNetwork {
  name: string;
  /** This box's address on the network. */
  address: string;
  family: 4 | 6;
}

/** The table's body (chains), or null when there is nothing to isolate. */
export function isolationBody(networks: IsolatedNetwork[]): string | null {
  if (networks.length === 0) return null;
  const input: string[] = [];
  const forward: string[] = [];
  for (const n of [...networks].sort((a, b) => a.name.localeCompare(b.name))) {
    const br = bridgeName(n.name);
    const ipk = n.family === 4 ? "ip" : "ip6";
    input.push(
      `    iifname "${br}" fib daddr type local ${ipk} daddr != ${n.address} counter drop`,
    );
    // Only between our bridges: routing from a network to the rest of the world is the
    // operator's business, routing from one network into another is not allowed.
    forward.push(`    iifname "${br}" oifname "wvb-*" oifname != "${br}" counter drop`);
  }
  return [
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    ...input,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...forward,
    "  }",
    "",
  ].join("\n");
}

/**
 * The complete table, declared then flushed then filled, so loading it is idempotent and atomic
 * (`nft -f` applies a file as one transaction). An empty list deletes the table.
 */
export function isolationRuleset(networks: IsolatedNetwork[]): string {
  const body = isolationBody(networks);
  return body === null ? deleteTableScript(ISOLATION_TABLE) : tableScript(ISOLATION_TABLE, body);
}
