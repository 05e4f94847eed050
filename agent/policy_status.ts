/**
 * Policy in `status` and metrics: each policy this box enforces, what it selects, and the
 * packets each of its rules passed (the nft counters `<policy>.<rule>`), plus the packets no
 * rule allowed, per direction. Pure: counters are read by the caller (`readPolicyCounters`).
 *
 * @module
 */

import type { PolicyCounter } from "../datapath/host/mod.ts";
import type { ResolvedPolicy } from "./policy_resolve.ts";

/** One rule's counter. */
export interface PolicyRuleView {
  /** `ingress-0`, `egress-1`, … (the fleet's allowances: `from-own-box`, `from-boxes`, …). */
  rule: string;
  direction: "ingress" | "egress";
  packets: number;
  bytes: number;
}

/** One policy in `status`. */
export interface PolicyView {
  /** Its id on this box (names its counters). */
  id: string;
  /** As written (null for the fleet's own allowances). */
  name: string | null;
  network: string | null;
  /** `file:line:column` of its definition (null for the fleet's own allowances). */
  origin: string | null;
  /** Workloads it selects, and `peer:<name>` for a box's address. */
  selects: string[];
  /** Directions it isolates. */
  policyTypes: ("Ingress" | "Egress")[];
  rules: PolicyRuleView[];
}

/** Policy in status: every policy with its rule counters, and the drops. */
export interface PolicyStatus {
  policies: PolicyView[];
  /** Packets no rule allowed, per direction (dropped). */
  denied: {
    ingress: { packets: number; bytes: number };
    egress: { packets: number; bytes: number };
  };
}

/** Builds the status view from the resolved policies and the counters read from nft. */
export function policyStatus(resolved: ResolvedPolicy[], counters: PolicyCounter[]): PolicyStatus {
  const byName = new Map(counters.map((c) => [`${c.policy}.${c.rule}`, c]));
  const count = (policy: string, rule: string) => {
    const c = byName.get(`${policy}.${rule}`);
    return { packets: c?.packets ?? 0, bytes: c?.bytes ?? 0 };
  };
  const policies = resolved.map((r): PolicyView => {
    const d = r.desired;
    const rules = [
      ...(d.ingress ?? []).map((x) => ({ rule: x.id, direction: "ingress" as const })),
      ...(d.egress ?? []).map((x) => ({ rule: x.id, direction: "egress" as const })),
    ].map((x) => ({ ...x, ...count(d.id, x.rule) }));
    const types: ("Ingress" | "Egress")[] = [];
    if (d.ingress !== null) types.push("Ingress");
    if (d.egress !== null) types.push("Egress");
    return {
      id: d.id,
      name: r.source?.name ?? null,
      network: r.source?.network ?? null,
      origin: r.source ? `${r.source.file}:${r.source.line}:${r.source.column}` : null,
      selects: r.selects,
      policyTypes: types,
      rules,
    };
  });
  return {
    policies,
    denied: { ingress: count("", "ingress-denied"), egress: count("", "egress-denied") },
  };
}
