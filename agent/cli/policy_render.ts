/**
 * The workload and policy sections of `weave-agent status`: each workload with its state (the
 * error for that workload alone when it is not plumbed), and each policy with what it selects
 * and the packets each rule passed, then the packets no rule allowed.
 *
 * @module
 */

import type { AgentStatus } from "../status.ts";

const WORKLOAD_HEADER =
  "WORKLOAD         NETWORK      ADDRESS          NAMESPACE             STATE";
const POLICY_HEADER =
  "POLICY                          RULE            PACKETS     BYTES       SELECTS";

/** Lines to append to the status text (none when the box has no workloads and no policy). */
export function renderWorkloadsAndPolicy(s: AgentStatus): string[] {
  const lines: string[] = [];
  if (s.workloads.length) {
    lines.push("", WORKLOAD_HEADER);
    for (const w of s.workloads) {
      lines.push([
        w.name.padEnd(16),
        w.network.padEnd(12),
        w.address.padEnd(16),
        w.netns.padEnd(21),
        w.state === "ok" ? "ok" : `ERROR: ${w.error ?? "unknown"}`,
      ].join(" "));
    }
  }
  if (s.policy.policies.length) {
    lines.push("", POLICY_HEADER);
    for (const p of s.policy.policies) {
      const label = p.name ? `${p.network}/${p.name}` : p.id;
      const selects = p.selects.join(", ") || "(nothing)";
      if (p.rules.length === 0) {
        lines.push([label.padEnd(31), "(deny all)".padEnd(15), "".padEnd(23), selects].join(" "));
      }
      p.rules.forEach((r, i) => {
        lines.push(
          [
            (i === 0 ? label : "").padEnd(31),
            r.rule.padEnd(15),
            String(r.packets).padEnd(11),
            String(r.bytes).padEnd(11),
            i === 0 ? selects : "",
          ].join(" ").trimEnd(),
        );
      });
    }
    const d = s.policy.denied;
    lines.push(
      `denied by policy: ingress ${d.ingress.packets} packets, egress ${d.egress.packets} packets`,
    );
  }
  return lines;
}
