/**
 * Our nft tables as whole units. Each table is loaded as one script that declares, flushes and
 * refills it, so `nft -f` replaces it in one transaction: there is no moment with half a
 * ruleset. Flushing keeps named objects (counters) across reloads. The table carries a digest
 * of its body as the comment of a rule in a chain nothing jumps to (a table's own comment cannot
 * change once the table exists, a rule's can); observation reads the digest, the rule count and
 * the chain names back, so reconcile reloads a table only when we want another body or someone
 * removed, flushed or shortened it. A table that has a chain we no longer define is deleted and
 * recreated in the same transaction (a flush keeps chains).
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";

/** The ESP guard (fast datapath with a password). */
export const NFT_TABLE = "weave_agent";
/** Isolation between networks and from the underlay; nothing else of anyone's is touched. */
export const ISOLATION_TABLE = "weave_isolation";

/** Network policy (see policy_rules.ts). */
export const POLICY_TABLE = "weave_policy";

/** Every nft table the agent owns; `down` removes each, nothing else is ever touched. */
export const OWNED_TABLES: readonly string[] = [NFT_TABLE, ISOLATION_TABLE, POLICY_TABLE];

const DIGEST_PREFIX = "weave-agent ";

/** The chain that only carries the digest rule. */
const DIGEST_CHAIN = "digest";

/** A table as observed: the digest it carries, how many rules its chains hold, its chains. */
export interface ObservedNftTable {
  digest: string | null;
  rules: number;
  chains: string[];
  /** Named counters (a flush keeps them: one we no longer define forces a recreate). */
  counters: string[];
}

/** The digest of a table body (chains and sets, as we render them). */
export function bodyDigest(body: string): string {
  const d = sha256(new TextEncoder().encode(body));
  return Array.from(d.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The whole-table script: declare (so flush works on a fresh host), flush (or, with `recreate`,
 * delete), fill.
 */
export function tableScript(name: string, body: string, opts: { recreate?: boolean } = {}): string {
  return [
    `table inet ${name}`,
    `${opts.recreate ? "delete" : "flush"} table inet ${name}`,
    `table inet ${name} {`,
    body.replace(/\n$/, ""),
    `  chain ${DIGEST_CHAIN} {`,
    `    return comment "${DIGEST_PREFIX}${bodyDigest(body)}"`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The script that removes a table (declared first, so it succeeds when the table is absent). */
export function deleteTableScript(name: string): string {
  return `table inet ${name}\ndelete table inet ${name}\n`;
}

/**
 * Reads a table back from `nft list table inet NAME` (or from our own script: both count the
 * same way, one rule per line inside a chain).
 */
export function parseNftTable(listing: string): ObservedNftTable {
  const digest = new RegExp(`comment "${DIGEST_PREFIX}([0-9a-f]+)"`).exec(listing)?.[1] ?? null;
  let rules = 0;
  let inChain = false;
  const chains: string[] = [];
  const counters: string[] = [];
  for (const raw of listing.split("\n")) {
    const l = raw.trim();
    const counter = /^counter (\S+) \{$/.exec(l);
    if (counter) counters.push(counter[1]);
    const chain = /^chain (\S+) \{$/.exec(l);
    if (chain) {
      // The digest chain is bookkeeping: its rule is not one of the table's rules.
      inChain = chain[1] !== DIGEST_CHAIN;
      if (inChain) chains.push(chain[1]);
    } else if (l === "}") inChain = false;
    else if (inChain && l && !/^(type |policy |comment )/.test(l)) rules++;
  }
  return { digest, rules, chains: chains.sort(), counters: counters.sort() };
}

/** What the table should look like once `script` is loaded. */
export function expectedTable(script: string): ObservedNftTable {
  return parseNftTable(script);
}
