/**
 * Network policy resolved to addresses: from the config's normalised policies (Kubernetes
 * NetworkPolicy semantics, networks in place of namespaces) to the host's `DesiredPolicy`
 * lists of addresses, over the whole fleet. Pure, and the same on every box: a packet is judged
 * wherever it enters a box (the sender's box for egress, the receiver's for ingress, and any box
 * that routes it), so every box carries every policy, and a workload on another box is selected
 * by its address.
 *
 * The endpoints of a network are its workloads (their labels, plus `weave.works/workload`,
 * `weave.works/peer`, `weave.works/kind: workload`) and its members' addresses
 * (`weave.works/peer`, `weave.works/kind: peer`). The steps, in order:
 *
 * 1. each policy selects endpoints of its own network by label;
 * 2. each `from`/`to` peer becomes the addresses it selects: endpoints of the policy's network,
 *    or of every network whose labels match its network selector; an ipBlock stays a CIDR with
 *    its exceptions;
 * 3. two allowances the fleet needs are added, only for endpoints some policy already selects
 *    (so they never make an unselected endpoint isolated): traffic from an endpoint's own box
 *    (Kubernetes' "local node" rule), and traffic between the boxes' own addresses (the fast
 *    datapath's heartbeats run between them).
 *
 * @module
 */

import type { Config, Labels, Policy, PolicyPeer, PolicyRule } from "../config/types.ts";
import { KIND_LABEL, matchesSelector, PEER_LABEL, WORKLOAD_LABEL } from "../config/mod.ts";
import type {
  DesiredPolicy,
  DesiredPolicyPeer,
  DesiredPolicyPort,
  DesiredPolicyRule,
} from "../datapath/host/desired.ts";

/** Longest policy or rule id the host accepts (`[a-z][a-z0-9-]{0,62}`). */
const MAX_ID_LENGTH = 63;

/**
 * Ids of the fleet's own allowances. A user policy's id starts with its network's name, whose
 * first `-`-separated part has at most 11 letters; this prefix has 13 before its first `-`, so
 * no user id can ever equal one of these.
 */
const ALLOWANCE_PREFIX = "weavedefaults";
const BOXES_IN_ID = `${ALLOWANCE_PREFIX}-boxes-in`;
const BOXES_OUT_ID = `${ALLOWANCE_PREFIX}-boxes-out`;
const ownBoxId = (peerIndex: number) => `${ALLOWANCE_PREFIX}-own-box-${peerIndex}`;

/** One endpoint of a network, with the labels selectors see. */
export interface Endpoint {
  network: string;
  address: string;
  kind: "workload" | "peer";
  /** Workload name, or the peer's name for a box's address. */
  name: string;
  /** The box it lives on. */
  box: string;
  labels: Labels;
}

/** A resolved policy and where it came from (for `status`, `plan` and metrics). */
export interface ResolvedPolicy {
  /** The host's policy; its id names the nft counters `<id>.<rule id>`. */
  desired: DesiredPolicy;
  /** The policy as written; null for the fleet's own allowances. */
  source: { name: string; network: string; file: string; line: number; column: number } | null;
  /** Names of the endpoints it selects (workload names, `peer:<name>` for box addresses). */
  selects: string[];
}

/** Every network's endpoints, in config order (workloads first, then members). */
export function fleetEndpoints(config: Config): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>(config.networks.map((n) => [n.name, []]));
  for (const w of config.workloads) {
    out.get(w.network)?.push({
      network: w.network,
      address: w.address,
      kind: "workload",
      name: w.name,
      box: w.peer,
      labels: {
        ...w.labels,
        [WORKLOAD_LABEL]: w.name,
        [PEER_LABEL]: w.peer,
        [KIND_LABEL]: "workload",
      },
    });
  }
  for (const n of config.networks) {
    for (const m of n.members) {
      out.get(n.name)!.push({
        network: n.name,
        address: m.address,
        kind: "peer",
        name: m.peer,
        box: m.peer,
        labels: { [PEER_LABEL]: m.peer, [KIND_LABEL]: "peer" },
      });
    }
  }
  return out;
}

function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(text)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0").slice(0, 6);
}

/**
 * A policy's id: `<network>-<name>` when the name is already `[a-z0-9-]` and it fits, else a
 * slug of it with 6 hex digits of a hash of network and name (Kubernetes names may hold dots).
 */
export function policyId(network: string, name: string, taken: Set<string>): string {
  const plain = `${network}-${name}`;
  if (/^[a-z0-9-]+$/.test(name) && plain.length <= MAX_ID_LENGTH && !taken.has(plain)) {
    return plain;
  }
  const suffix = `-${fnv(`${network}/${name}`)}`;
  const slug = plain.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+$/, "");
  let id = slug.slice(0, MAX_ID_LENGTH - suffix.length) + suffix;
  for (let i = 2; taken.has(id); i++) id = `${id.slice(0, MAX_ID_LENGTH - 3)}-${i}`;
  return id;
}

function peerAddresses(
  peer: PolicyPeer,
  policy: Policy,
  config: Config,
  endpoints: Map<string, Endpoint[]>,
): DesiredPolicyPeer {
  if (peer.kind === "ipBlock") return { cidr: peer.cidr, except: [...peer.except] };
  const networks = peer.networks === null
    ? [policy.network]
    : config.networks.filter((n) => matchesSelector(n.labels, peer.networks!)).map((n) => n.name);
  const addresses = networks.flatMap((n) =>
    (endpoints.get(n) ?? []).filter((e) => matchesSelector(e.labels, peer.endpoints))
      .map((e) => e.address)
  );
  return { addresses: [...new Set(addresses)] };
}

function ports(rule: PolicyRule): DesiredPolicyPort[] | null {
  if (rule.ports === null) return null;
  return rule.ports.map((p) => {
    const out: DesiredPolicyPort = { protocol: p.protocol };
    if (p.port !== null) out.port = p.port;
    if (p.port !== null && p.endPort !== null) out.endPort = p.endPort;
    return out;
  });
}

function rules(
  dir: "ingress" | "egress",
  list: PolicyRule[],
  policy: Policy,
  config: Config,
  endpoints: Map<string, Endpoint[]>,
): DesiredPolicyRule[] {
  return list.map((r, i) => ({
    id: `${dir}-${i}`,
    peers: r.peers === null
      ? null
      : r.peers.map((p) => peerAddresses(p, policy, config, endpoints)),
    ports: ports(r),
  }));
}

/** The config's policies, each resolved to addresses over the whole fleet. */
export function resolveUserPolicies(
  config: Config,
  endpoints = fleetEndpoints(config),
): ResolvedPolicy[] {
  const taken = new Set<string>();
  return config.policies.map((p) => {
    const id = policyId(p.network, p.name, taken);
    taken.add(id);
    const selected = (endpoints.get(p.network) ?? []).filter((e) =>
      matchesSelector(e.labels, p.endpoints)
    );
    return {
      desired: {
        id,
        endpoints: [...new Set(selected.map((e) => e.address))],
        ingress: p.policyTypes.includes("Ingress")
          ? rules("ingress", p.ingress, p, config, endpoints)
          : null,
        egress: p.policyTypes.includes("Egress")
          ? rules("egress", p.egress, p, config, endpoints)
          : null,
      },
      source: {
        name: p.name,
        network: p.network,
        file: p.origin.file,
        line: p.origin.line,
        column: p.origin.column,
      },
      selects: selected.map((e) => (e.kind === "peer" ? `peer:${e.name}` : e.name)),
    };
  });
}

/**
 * The fleet's own allowances over what `user` selects: from an endpoint's own box, and between
 * the boxes' addresses. Each covers only endpoints already isolated in its direction.
 */
export function fleetAllowances(
  config: Config,
  user: ResolvedPolicy[],
  endpoints = fleetEndpoints(config),
): ResolvedPolicy[] {
  const isolated = (dir: "ingress" | "egress") =>
    new Set(user.filter((p) => p.desired[dir] !== null).flatMap((p) => p.desired.endpoints));
  const inSel = isolated("ingress");
  const outSel = isolated("egress");
  const all = [...endpoints.values()].flat();
  const boxes = all.filter((e) => e.kind === "peer");
  const boxAddresses = [...new Set(boxes.map((e) => e.address))];
  const out: ResolvedPolicy[] = [];
  const allowance = (
    id: string,
    eps: Endpoint[],
    dir: "ingress" | "egress",
    rule: string,
    peers: string[],
  ): ResolvedPolicy => ({
    desired: {
      id,
      endpoints: [...new Set(eps.map((e) => e.address))],
      ingress: dir === "ingress"
        ? [{ id: rule, peers: [{ addresses: peers }], ports: null }]
        : null,
      egress: dir === "egress" ? [{ id: rule, peers: [{ addresses: peers }], ports: null }] : null,
    },
    source: null,
    selects: eps.map((e) => (e.kind === "peer" ? `peer:${e.name}` : e.name)),
  });
  const boxesIn = boxes.filter((e) => inSel.has(e.address));
  if (boxesIn.length) {
    out.push(allowance(BOXES_IN_ID, boxesIn, "ingress", "from-boxes", boxAddresses));
  }
  const boxesOut = boxes.filter((e) => outSel.has(e.address));
  if (boxesOut.length) {
    out.push(allowance(BOXES_OUT_ID, boxesOut, "egress", "to-boxes", boxAddresses));
  }
  for (const peer of config.peers) {
    const own = all.filter((e) =>
      e.box === peer.name && e.kind === "workload" && inSel.has(e.address)
    );
    const from = boxes.filter((e) => e.box === peer.name).map((e) => e.address);
    if (own.length && from.length) {
      out.push(allowance(ownBoxId(peer.index), own, "ingress", "from-own-box", from));
    }
  }
  return out;
}

/** Every policy this box enforces: the config's, then the fleet's allowances. */
export function resolvePolicies(config: Config): ResolvedPolicy[] {
  const endpoints = fleetEndpoints(config);
  const user = resolveUserPolicies(config, endpoints);
  return user.length ? [...user, ...fleetAllowances(config, user, endpoints)] : [];
}
