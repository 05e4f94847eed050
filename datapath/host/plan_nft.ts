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
  tableScript,
} from "./nft_table.ts";

/** The ESP guard's chain: VXLAN from a fast-datapath peer must have come through ESP. */
export function nftGuard(desired: DesiredHost): string | null {
  if (desired.esp.length === 0) return null;
  const rules: string[] = [];
  for (const [family, ipk] of [[4, "ip"], [6, "ip6"]] as const) {
    const peers = desired.esp.map((e) => e.remote).filter((a) => a.includes(":") === (family === 6))
      .sort();
    if (peers.length === 0) continue;
    rules.push(
      `    ${ipk} saddr { ${
        peers.join(", ")
      } } udp dport ${desired.vxlanPort} meta ipsec missing counter drop`,
    );
  }
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
  }));
  return new Map([
    [ISOLATION_TABLE, isolationBody(isolated)],
    [NFT_TABLE, nftGuard(desired)],
  ]);
}

const PURPOSE: Record<string, string> = {
  [NFT_TABLE]: "the ESP guard: VXLAN from fast-datapath peers only through ESP",
  [ISOLATION_TABLE]: "isolation: each network's bridge reaches only its own network",
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
    const stale = (have?.chains ?? []).some((c) => !want.chains.includes(c));
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
