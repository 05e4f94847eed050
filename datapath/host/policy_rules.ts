/**
 * Network policy compiled to nftables, with the semantics of Kubernetes NetworkPolicy over
 * resolved addresses (`DesiredPolicy`). Pure: the table body is golden-tested; the planner loads
 * it as one transaction (flush and refill of `weave_policy`), so a policy change replaces the
 * whole ruleset with no moment where neither the old nor the new one holds.
 *
 * A packet meets the `enforce` chain wherever it enters or leaves this box: `forward` (bridged
 * between the ports of a network's bridge - a local workload's veth, the VXLAN device, the
 * sleeve TAP - which needs br_netfilter's bridge-nf-call-iptables, and routed between
 * networks), `input` (to the box's own addresses) and `output` (from them). Then:
 *
 * 1. ICMP errors and the like about a tracked connection pass (`ct state related`);
 * 2. a reply (conntrack's reply direction) passes when the connection it answers is allowed now:
 *    `egress-replies` and `ingress-replies` hold each rule mirrored (addresses swapped, the
 *    port matched as the source port);
 * 3. anything else, from an endpoint some policy selects for egress: `egress` must allow it
 *    (some rule of some such policy returns), else it is counted and dropped;
 * 4. to an endpoint some policy selects for ingress: `ingress` likewise;
 * 5. endpoints selected by no policy for a direction allow everything in it.
 *
 * Every packet of a connection is judged, not only its first: a policy change cuts the
 * connections it no longer allows at once, both ways. Accepting whatever conntrack calls
 * established would let a connection opened under the old policy (a TCP session, a UDP flow kept
 * warm) outlive a deny meant to fence a compromised workload, for days. The rules are stateless
 * (addresses, protocol, port), so judging again gives the first packet's answer while the policy
 * is unchanged. The overlay has no NAT, so a reply's addresses are its connection's swapped.
 *
 * A rule passes traffic that matches one of its peers (any address when `peers` is null) and one
 * of its ports (any when `ports` is null); each rule has a named counter `<policy>.<rule>` that
 * counts the packets it passes, both ways.
 *
 * @module
 */

import type {
  DesiredPolicy,
  DesiredPolicyPeer,
  DesiredPolicyPort,
  DesiredPolicyRule,
} from "./desired.ts";
import { isAddress } from "./workload_names.ts";

import { POLICY_TABLE } from "./nft_table.ts";

export { POLICY_TABLE };

/** Counters of traffic no rule allowed, per direction. */
export const DENIED_COUNTERS = { ingress: "ingress-denied", egress: "egress-denied" } as const;

/** nft object names start with a letter (`counter 0-x` is a syntax error). */
const ID_RE = /^[a-z][a-z0-9-]{0,62}$/;
const CIDR_RE = /^([0-9a-f.:]+)\/(\d{1,3})$/;

type Family = 4 | 6;
type Direction = "ingress" | "egress";

const familyOf = (a: string): Family => (a.includes(":") ? 6 : 4);
const ipk = (f: Family) => (f === 4 ? "ip" : "ip6");

function set(items: string[]): string {
  const u = [...new Set(items)];
  return u.length === 1 ? u[0] : `{ ${u.join(", ")} }`;
}

/** The counter name of one rule. */
export function ruleCounter(policy: string, rule: string): string {
  return `${policy}.${rule}`;
}

function checkPolicy(p: DesiredPolicy): void {
  const bad = (what: string) => new Error(`policy ${JSON.stringify(p.id)}: ${what}`);
  if (!ID_RE.test(p.id)) throw bad("invalid id");
  for (const e of p.endpoints) if (!isAddress(e)) throw bad(`invalid endpoint ${e}`);
  for (const r of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
    if (!ID_RE.test(r.id)) throw bad(`invalid rule id ${JSON.stringify(r.id)}`);
    for (const peer of r.peers ?? []) {
      const addrs = "addresses" in peer ? peer.addresses : [peer.cidr, ...peer.except];
      for (const a of addrs) {
        const m = CIDR_RE.exec(a);
        if (
          !(m ? isAddress(m[1]) && Number(m[2]) <= (m[1].includes(":") ? 128 : 32) : isAddress(a))
        ) {
          throw bad(`rule ${r.id}: invalid address ${a}`);
        }
      }
    }
    for (const port of r.ports ?? []) {
      const ok = (n: number | undefined) =>
        n === undefined || (Number.isInteger(n) && n >= 1 && n <= 65535);
      if (
        !ok(port.port) || !ok(port.endPort) ||
        (port.endPort !== undefined && (port.port === undefined || port.endPort < port.port))
      ) {
        throw bad(`rule ${r.id}: invalid port range ${port.port}-${port.endPort}`);
      }
    }
  }
}

/** The peer's match for one family ("" for any), or null when it matches nothing there. */
function peerMatch(
  peer: DesiredPolicyPeer | null,
  side: "saddr" | "daddr",
  f: Family,
): string | null {
  if (peer === null) return "";
  if ("addresses" in peer) {
    const a = peer.addresses.filter((x) => familyOf(x) === f);
    return a.length ? `${ipk(f)} ${side} ${set(a)} ` : null;
  }
  if (familyOf(peer.cidr) !== f) return null;
  const except = peer.except.filter((x) => familyOf(x) === f);
  return `${ipk(f)} ${side} ${peer.cidr} ` +
    (except.length ? `${ipk(f)} ${side} != ${set(except)} ` : "");
}

/**
 * Port matches, one per protocol ("" for any port of any protocol), on the destination port or,
 * for replies, the source port.
 */
function portMatches(ports: DesiredPolicyPort[] | null, key: "dport" | "sport"): string[] {
  if (ports === null) return [""];
  const by = new Map<string, string[] | "all">();
  for (const p of ports) {
    const proto = p.protocol.toLowerCase();
    if (p.port === undefined) by.set(proto, "all");
    else if (by.get(proto) !== "all") {
      const range = p.endPort !== undefined && p.endPort !== p.port
        ? `${p.port}-${p.endPort}`
        : `${p.port}`;
      by.set(proto, [...((by.get(proto) as string[] | undefined) ?? []), range]);
    }
  }
  return [...by].map(([proto, v]) =>
    v === "all" ? `meta l4proto ${proto} ` : `${proto} ${key} ${set(v)} `
  );
}

/**
 * The nft rules of one policy rule: endpoint × peer × protocol, per family; mirrored for the
 * replies of the connections it allows.
 */
function ruleLines(
  p: DesiredPolicy,
  r: DesiredPolicyRule,
  dir: Direction,
  replies: boolean,
): string[] {
  const [own, other] = (dir === "ingress") !== replies
    ? ["daddr", "saddr"] as const
    : ["saddr", "daddr"] as const;
  const out: string[] = [];
  for (const f of [4, 6] as const) {
    const eps = p.endpoints.filter((e) => familyOf(e) === f);
    if (eps.length === 0) continue;
    for (const peer of r.peers ?? [null]) {
      const pm = peerMatch(peer, other, f);
      if (pm === null) continue;
      for (const port of portMatches(r.ports, replies ? "sport" : "dport")) {
        out.push(
          `    ${ipk(f)} ${own} ${set(eps)} ${pm}${port}counter name "${
            ruleCounter(p.id, r.id)
          }" return`,
        );
      }
    }
  }
  return out;
}

function directionChain(policies: DesiredPolicy[], dir: Direction, replies: boolean): string[] {
  const rules = policies.flatMap((p) =>
    (p[dir] ?? []).flatMap((r) => ruleLines(p, r, dir, replies))
  );
  return [
    `  chain ${dir}${replies ? "-replies" : ""} {`,
    ...rules,
    `    counter name "${DENIED_COUNTERS[dir]}" drop`,
    "  }",
  ];
}

/** Endpoints some policy selects for `dir`, per family. */
function selected(policies: DesiredPolicy[], dir: Direction, f: Family): string[] {
  return [...new Set(policies.filter((p) => p[dir] !== null).flatMap((p) => p.endpoints))]
    .filter((e) => familyOf(e) === f).sort();
}

/** The policy table's body, or null when there is no policy (the table is removed). */
export function policyBody(policies: DesiredPolicy[] | undefined): string | null {
  if (!policies || policies.length === 0) return null;
  for (const p of policies) checkPolicy(p);
  const sorted = [...policies].sort((a, b) => a.id.localeCompare(b.id));
  const counters = [
    ...Object.values(DENIED_COUNTERS),
    ...sorted.flatMap((p) =>
      [...(p.ingress ?? []), ...(p.egress ?? [])].map((r) => ruleCounter(p.id, r.id))
    ),
  ];
  const jumps: string[] = [];
  const replyJumps: string[] = [];
  const sides = [["egress", "saddr", "daddr"], ["ingress", "daddr", "saddr"]] as const;
  for (const [dir, side, replySide] of sides) {
    for (const f of [4, 6] as const) {
      const eps = selected(sorted, dir, f);
      if (eps.length === 0) continue;
      jumps.push(`    ${ipk(f)} ${side} ${set(eps)} jump ${dir}`);
      replyJumps.push(`    ${ipk(f)} ${replySide} ${set(eps)} jump ${dir}-replies`);
    }
  }
  const hook = (name: string) => [
    `  chain ${name} {`,
    `    type filter hook ${name} priority filter + 10; policy accept;`,
    "    jump enforce",
    "  }",
  ];
  return [
    ...[...new Set(counters)].map((c) => `  counter ${c} {\n  }`),
    ...hook("forward"),
    ...hook("input"),
    ...hook("output"),
    "  chain enforce {",
    "    ct state related accept",
    "    ct direction reply jump replies",
    ...jumps,
    "  }",
    // A reply no drop stopped is accepted here: the original direction's jumps are not for it.
    "  chain replies {",
    ...replyJumps,
    "    accept",
    "  }",
    ...directionChain(sorted, "egress", false),
    ...directionChain(sorted, "ingress", false),
    ...directionChain(sorted, "egress", true),
    ...directionChain(sorted, "ingress", true),
    "",
  ].join("\n");
}
