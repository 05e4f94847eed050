/**
 * Our nft tables in the plan: the ESP guard (`weave_agent`) and the isolation ruleset
 * (`weave_isolation`). Each table the plan changes is one whole-table script; the applier loads
 * consecutive nft changes as one `nft -f` transaction.
 *
 * @module
 */

import type { DesiredHost, ObservedHost } from "./desired.ts";
import { type Change, nftChange } from "./change.ts";
import { isolationBody } from "./isolation_rules.ts";
import {
  deleteTableScript,
  expectedTable,
  ISOLATION_TABLE,
  NFT_TABLE,
  OWNED_TABLES,
  POLICY_TABLE,
  tableScript,
} from "./nft_table.ts";
import { policyBody } from "./policy_rules.ts";

/** Bit offset and width of the VNI in the VXLAN header, counted from the UDP header (`@th`). */
const VXLAN_VNI_BITS = "@th,96,24";

/** Networks that get a VXLAN device: fast datapath wanted and some fast-datapath pair on it. */
export function vxlanNetworks(desired: DesiredHost): DesiredHost["networks"] {
  return desired.networks.filter((n) => n.fastdp && n.fdb.length > 0);
}

/**
 * The VXLAN guard's chain. Kernel VXLAN does not check the outer source, so anyone who can send
 * UDP to the port with a network's VNI could inject frames into its bridge. Accepted: only VXLAN
 * from a fast-datapath peer of that VNI, and with a password only what came through ESP
 * (`meta ipsec missing` with no source match: no address is trusted in clear). Everything else
 * to the VXLAN port is dropped and counted.
 */
export function nftGuard(desired: DesiredHost): string | null {
  const nets = vxlanNetworks(desired);
  if (nets.length === 0) return null;
  const port = desired.vxlanPort;
  const encrypted = desired.encrypted ?? desired.esp.length > 0;
  const rules: string[] = [];
  if (encrypted) rules.push(`    udp dport ${port} meta ipsec missing counter drop`);
  for (const n of [...nets].sort((a, b) => a.vni - b.vni)) {
    for (const [family, ipk] of [[4, "ip"], [6, "ip6"]] as const) {
      const peers = [...new Set(n.fdb.map((f) => f.underlay))]
        .filter((a) => a.includes(":") === (family === 6)).sort();
      if (peers.length === 0) continue;
      const set = peers.length === 1 ? peers[0] : `{ ${peers.join(", ")} }`;
      rules.push(`    udp dport ${port} ${VXLAN_VNI_BITS} ${n.vni} ${ipk} saddr ${set} accept`);
    }
  }
  rules.push(`    udp dport ${port} counter drop`);
  return [
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    ...rules,
    "  }",
    "",
  ].join("\n");
}

/** The body every table of ours should have (null: the table should not exist). */
export function desiredTables(desired: DesiredHost): Map<string, string | null> {
  const isolated = desired.networks.map((n) => ({
    name: n.name,
    address: n.address,
    family: n.address.includes(":") ? 6 as const : 4 as const,
    prefixLength: n.prefixLength,
  }));
  return new Map([
    [ISOLATION_TABLE, isolationBody(isolated, desired.routes ?? [])],
    [NFT_TABLE, nftGuard(desired)],
    [POLICY_TABLE, policyBody(desired.policies)],
  ]);
}

const PURPOSE: Record<string, string> = {
  [NFT_TABLE]: "the VXLAN guard: only from fast-datapath peers of each VNI (and through ESP)",
  [ISOLATION_TABLE]:
    "isolation: overlay addresses only through their bridges, declared routes only",
  [POLICY_TABLE]: "network policy, resolved to addresses",
};

/** A change per table whose body (digest) or rule count differs from what we want. */
export function planNft(desired: DesiredHost, observed: ObservedHost): Change[] {
  const out: Change[] = [];
  for (const [name, body] of desiredTables(desired)) {
    const have = observed.nft[name];
    if (body === null) {
      if (have) out.push(nftChange(`remove ${PURPOSE[name]}`, deleteTableScript(name)));
      continue;
    }
    const want = expectedTable(tableScript(name, body));
    if (have && have.digest === want.digest && have.rules === want.rules) continue;
    const stale = (have?.chains ?? []).some((c) => !want.chains.includes(c)) ||
      (have?.counters ?? []).some((c) => !want.counters.includes(c));
    out.push(nftChange(
      `load ${PURPOSE[name]} (${want.rules} rules)`,
      tableScript(name, body, { recreate: stale }),
    ));
  }
  return out;
}

/** Removal of every nft table of ours that exists (for `down`). */
export function removeNftTables(observed: ObservedHost): Change[] {
  return OWNED_TABLES.filter((t) => observed.nft[t]).map((t) =>
    nftChange(`remove our nft table ${t}`, deleteTableScript(t))
  );
}
