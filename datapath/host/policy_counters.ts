/**
 * Per-rule policy counters, read from `nft --json list counters table inet weave_policy`: what
 * the agent shows in status and metrics.
 *
 * @module
 */

import { DENIED_COUNTERS, POLICY_TABLE } from "./policy_rules.ts";
import { runCommand } from "../command.ts";

/** One rule's counter; `rule` is `ingress-denied`/`egress-denied` (policy "") for the drops. */
export interface PolicyCounter {
  policy: string;
  rule: string;
  packets: number;
  bytes: number;
}

interface NftJson {
  nftables?: { counter?: { name?: string; table?: string; packets?: number; bytes?: number } }[];
}

/** Parses nft's JSON listing; anything that is not one of our counters is ignored. */
export function parsePolicyCounters(json: string): PolicyCounter[] {
  let doc: NftJson;
  try {
    doc = JSON.parse(json) as NftJson;
  } catch {
    return [];
  }
  const denied = new Set<string>(Object.values(DENIED_COUNTERS));
  const out: PolicyCounter[] = [];
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    if (!c || c.table !== POLICY_TABLE || typeof c.name !== "string") continue;
    const packets = c.packets ?? 0;
    const bytes = c.bytes ?? 0;
    if (denied.has(c.name)) {
      out.push({ policy: "", rule: c.name, packets, bytes });
      continue;
    }
    const dot = c.name.indexOf(".");
    if (dot <= 0) continue;
    out.push({ policy: c.name.slice(0, dot), rule: c.name.slice(dot + 1), packets, bytes });
  }
  return out.sort((a, b) => `${a.policy}.${a.rule}`.localeCompare(`${b.policy}.${b.rule}`));
}

/** Reads the counters (empty when there is no policy table). */
export async function readPolicyCounters(opts: { netns?: string } = {}): Promise<PolicyCounter[]> {
  const r = await runCommand(
    "nft",
    ["--json", "list", "counters", "table", "inet", POLICY_TABLE],
    opts,
  );
  return r.ok ? parsePolicyCounters(r.stdout) : [];
}
