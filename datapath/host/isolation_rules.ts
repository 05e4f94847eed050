/**
 * Isolation: each network is its own broadcast domain, reachable only through its own bridge,
 * and routed to another network only where a route is declared. Three chains, in the order a
 * packet meets them:
 *
 * 1. `guard` (raw prerouting, before conntrack): no packet with a source in network N, and no
 *    packet to an address in N, is accepted unless it arrived through N's bridge or the bridge of
 *    a network with a declared route to or from N (another box may have routed it there, or its
 *    reply). This is what stops a box on the underlay that routes a network's subnet via our
 *    underlay address: the overlay's authentication means nothing to a service bound to an
 *    overlay address, so the kernel must never accept such a packet.
 * 2. `input`: Linux's weak host model would let a frame arriving on one network's bridge reach
 *    an address the box holds on another network; nothing arriving on `wvb-X` reaches a local
 *    address other than the box's own address on X.
 * 3. `forward`: within a bridge (bridged frames, with br_netfilter) and declared routes pass,
 *    replies to routed connections pass back (conntrack's reply direction: a connection opened
 *    the other way while a route allowed it dies with the route); everything else between
 *    networks, and between a network and the underlay, is dropped.
 *
 * Pure: returns the nft table body; the planner puts it in the plan and the applier loads it in
 * one transaction.
 *
 * @module
 */

import { bridgeName } from "../link_names.ts";
import { deleteTableScript, ISOLATION_TABLE, tableScript } from "./nft_table.ts";
import type { DesiredRoute } from "./desired.ts";

export { ISOLATION_TABLE };

/** One network as the isolation rules need it. */
export interface IsolatedNetwork {
  name: string;
  /** This box's address on the network. */
  address: string;
  family: 4 | 6;
  /** The network's prefix length; without it the underlay guard has no subnet to guard. */
  prefixLength?: number;
}

/** The subnet `address/prefixLength` in the form nft prints it (host bits zero). */
export function subnetOf(address: string, prefixLength: number): string {
  if (!address.includes(":")) {
    const n = address.split(".").reduce((a, o) => a * 256 + Number(o), 0);
    const mask = prefixLength === 0
      ? 0
      : Number((0xffffffffn << BigInt(32 - prefixLength)) & 0xffffffffn);
    const net = Number(BigInt(n) & BigInt(mask));
    return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${prefixLength}`;
  }
  const [head, tail = ""] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
    : h;
  let v = groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
  v &= ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefixLength)) - 1n);
  const out = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  // Canonical text: the longest run of zero groups becomes "::".
  let best = -1, len = 0;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && out[j] === 0) j++;
    if (j - i > len && j - i > 1) [best, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = out.map((g) => g.toString(16));
  const text = best < 0
    ? hex.join(":")
    : `${hex.slice(0, best).join(":")}::${hex.slice(best + len).join(":")}`;
  return `${text}/${prefixLength}`;
}

function quoted(names: string[]): string {
  const q = [...new Set(names)].sort().map((n) => `"${n}"`);
  return q.length === 1 ? q[0] : `{ ${q.join(", ")} }`;
}

/** Raw prerouting: overlay sources and destinations only through their bridges. */
function guardChain(nets: IsolatedNetwork[], routes: DesiredRoute[]): string[] {
  const rules = ['    iifname "lo" accept'];
  for (const n of nets) {
    if (n.prefixLength === undefined) continue;
    const ipk = n.family === 4 ? "ip" : "ip6";
    const subnet = subnetOf(n.address, n.prefixLength);
    const via = [
      n.name,
      ...routes.flatMap((r) => r.to === n.name ? [r.from] : r.from === n.name ? [r.to] : []),
    ];
    rules.push(
      `    ${ipk} saddr ${subnet} iifname != ${quoted(via.map(bridgeName))} counter drop`,
      `    ${ipk} daddr ${subnet} iifname != ${quoted(via.map(bridgeName))} counter drop`,
    );
  }
  return [
    "  chain guard {",
    "    type filter hook prerouting priority raw; policy accept;",
    ...rules,
    "  }",
  ];
}

function forwardChain(nets: IsolatedNetwork[], routes: DesiredRoute[]): string[] {
  const known = new Set(nets.map((n) => n.name));
  const rules: string[] = [];
  for (const n of nets) {
    const b = bridgeName(n.name);
    rules.push(`    iifname "${b}" oifname "${b}" accept`);
  }
  const declared = routes.filter((r) => known.has(r.from) && known.has(r.to) && r.from !== r.to)
    .sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`));
  for (const r of declared) {
    const [f, t] = [bridgeName(r.from), bridgeName(r.to)];
    rules.push(`    iifname "${f}" oifname "${t}" counter accept`);
    // Replies only: a connection opened the other way under a route since removed is judged
    // by the drop below, not waved through as established.
    rules.push(
      `    iifname "${t}" oifname "${f}" ct state established,related ct direction reply accept`,
    );
  }
  rules.push(`    iifname "wvb-*" counter drop`, `    oifname "wvb-*" counter drop`);
  return [
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...rules,
    "  }",
  ];
}

/** The table's body (chains), or null when there is nothing to isolate. */
export function isolationBody(
  networks: IsolatedNetwork[],
  routes: DesiredRoute[] = [],
): string | null {
  if (networks.length === 0) return null;
  const nets = [...networks].sort((a, b) => a.name.localeCompare(b.name));
  const input = nets.map((n) =>
    `    iifname "${bridgeName(n.name)}" fib daddr type local ${
      n.family === 4 ? "ip" : "ip6"
    } daddr != ${n.address} counter drop`
  );
  return [
    ...guardChain(nets, routes),
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    ...input,
    "  }",
    ...forwardChain(nets, routes),
    "",
  ].join("\n");
}

/**
 * The complete table, declared then flushed then filled, so loading it is idempotent and atomic
 * (`nft -f` applies a file as one transaction). An empty list deletes the table.
 */
export function isolationRuleset(networks: IsolatedNetwork[], routes: DesiredRoute[] = []): string {
  const body = isolationBody(networks, routes);
  return body === null ? deleteTableScript(ISOLATION_TABLE) : tableScript(ISOLATION_TABLE, body);
}
