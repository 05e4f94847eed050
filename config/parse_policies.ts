/**
 * Network policy with the semantics of Kubernetes NetworkPolicy (networking.k8s.io/v1): the
 * inline `policies:` list of weave.yaml, and the spec reader it shares with the standard
 * documents of `policyFiles:` (`parse_policy_files.ts`). The result is the normalised
 * {@link Policy} of types.ts.
 *
 * Kubernetes semantics kept exactly: an empty `podSelector` selects every endpoint of the
 * network; `policyTypes` defaults to Ingress, plus Egress when `egress` has rules; `ingress: []`
 * (or no `ingress` with Ingress in policyTypes) allows nothing in, `ingress: [{}]` allows
 * everything; a rule's missing or empty `from`/`to` matches every peer, its missing or empty
 * `ports` every port; a peer with `podSelector` alone means the policy's own network,
 * `namespaceSelector` (inline: `networkSelector`) alone means every endpoint of the selected
 * networks, both together mean the matching endpoints of the selected networks; `ipBlock` stands
 * alone; `protocol` defaults to TCP; `endPort` needs a numeric `port` and is not below it.
 *
 * Refused with a position because they cannot be mapped: named ports (`port: http`: workloads
 * declare no container ports), protocols other than TCP, UDP and SCTP.
 *
 * @module
 */

import { isScalar } from "./yaml.ts";
import { didYouMean } from "./did_you_mean.ts";
import {
  addressInSubnet,
  type Cidr,
  formatCidr,
  networkAddress,
  parseCidr,
  subnetsOverlap,
} from "./ip.ts";
import { checkDnsLabel } from "./names.ts";
import type { ParseContext, TopLevel } from "./parse_context.ts";
import { everything, parseSelector } from "./parse_labels.ts";
import type {
  Network,
  Policy,
  PolicyPeer,
  PolicyPort,
  PolicyProtocol,
  PolicyRule,
} from "./types.ts";
import { describeValue, type Entry, type MapEntries, type YNode } from "./yaml_reader.ts";

/** The spec keys both forms share. */
export const SPEC_KEYS = ["podSelector", "policyTypes", "ingress", "egress"] as const;
const INLINE_KEYS = ["name", "network", ...SPEC_KEYS] as const;
const PROTOCOLS: readonly PolicyProtocol[] = ["TCP", "UDP", "SCTP"];
const EXAMPLE = "- {name: cameras-in, network: cameras, podSelector: {}, ingress: [{}]}";

/** How the two forms differ: the name of the network selector in a peer. */
export interface SpecDialect {
  /** `networkSelector` (inline) or `namespaceSelector` (NetworkPolicy documents). */
  networkSelectorKey: "networkSelector" | "namespaceSelector";
}

/** The spec part of a policy, as read. */
export type PolicySpec = Pick<Policy, "endpoints" | "policyTypes" | "ingress" | "egress">;

/** `policies:`; [] when absent; undefined when invalid (reported). */
export function parseInlinePolicies(
  ctx: ParseContext,
  top: TopLevel,
  networks: Network[] | undefined,
): Policy[] | undefined {
  const e = top.get("policies");
  if (!e) return [];
  const items = ctx.r.list(e.value, "policies", EXAMPLE);
  if (!items) return undefined;
  const out: Policy[] = [];
  let ok = true;
  for (const [i, item] of items.entries()) {
    const where = `policies[${i}]`;
    const m = ctx.r.map(item, where, `in ${where}`, INLINE_KEYS, EXAMPLE.slice(2));
    if (!m) {
      ok = false;
      continue;
    }
    const name = policyName(ctx, m.get("name"), item, where, m);
    const network = policyNetwork(ctx, m.get("network"), item, where, m, networks, "network");
    const spec = parsePolicySpec(ctx, m, item, where, { networkSelectorKey: "networkSelector" });
    if (name === undefined || network === undefined || !spec || m.unknownKeys.length > 0) {
      ok = false;
      continue;
    }
    const at = ctx.report.at(item);
    out.push({ name, network, ...spec, origin: { file: ctx.report.file, ...at } });
  }
  return ok ? out : undefined;
}

/** A policy's name (a DNS label). */
export function policyName(
  ctx: ParseContext,
  e: Entry | undefined,
  item: YNode | null,
  where: string,
  m: MapEntries,
): string | undefined {
  if (!e) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no name`, "add e.g. name: cameras-in");
    }
    return undefined;
  }
  const name = ctx.r.string(e.value, `${where}.name`, "name: cameras-in");
  const problem = name === undefined ? null : checkDnsLabel(name, "policy name");
  if (problem) {
    ctx.report.error(e.value, problem.message, problem.hint);
    return undefined;
  }
  return name;
}

/** The network a policy lives in: one of the config's networks. */
export function policyNetwork(
  ctx: ParseContext,
  e: Entry | undefined,
  item: YNode | null,
  where: string,
  m: MapEntries,
  networks: Network[] | undefined,
  key: string,
): string | undefined {
  const names = (networks ?? []).map((n) => n.name);
  if (!e) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(
        item,
        `${where} has no ${key}`,
        `name the network it applies to (${names.join(", ")})`,
      );
    }
    return undefined;
  }
  const name = ctx.r.string(e.value, `${where}.${key}`, `${key}: cameras`);
  if (name === undefined || !networks) return undefined;
  if (!names.includes(name)) {
    ctx.report.error(
      e.value,
      `unknown network "${name}" in ${where}.${key}` + didYouMean(name, names),
      `networks: ${names.join(", ")}`,
    );
    return undefined;
  }
  return name;
}

/** podSelector, policyTypes, ingress, egress from a map holding them. */
export function parsePolicySpec(
  ctx: ParseContext,
  m: MapEntries,
  node: YNode | null,
  where: string,
  dialect: SpecDialect,
): PolicySpec | undefined {
  const ps = m.get("podSelector");
  let endpoints = ps ? parseSelector(ctx, ps.value, `${where}.podSelector`) : undefined;
  if (!ps) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(
        node,
        `${where} has no podSelector`,
        "podSelector: {} selects every endpoint of the network, as in Kubernetes",
      );
    }
    endpoints = undefined;
  }
  const ingressE = m.get("ingress");
  const egressE = m.get("egress");
  const ingress = ingressE
    ? parseRules(ctx, ingressE.value, `${where}.ingress`, "from", dialect)
    : [];
  const egress = egressE ? parseRules(ctx, egressE.value, `${where}.egress`, "to", dialect) : [];
  const types = parsePolicyTypes(ctx, m.get("policyTypes"), where, egress);
  if (!endpoints || !ingress || !egress || !types) return undefined;
  // Kubernetes ignores them silently; say so, since it is almost always a mistake.
  for (
    const [dir, e, rules] of [["Ingress", ingressE, ingress], ["Egress", egressE, egress]] as const
  ) {
    if (e && rules.length > 0 && !types.includes(dir)) {
      ctx.report.warning(
        e.key,
        `${where}.${dir.toLowerCase()} rules are ignored: policyTypes does not list ${dir}`,
        `add ${dir} to policyTypes, or remove the ${dir.toLowerCase()} rules`,
      );
    }
  }
  return { endpoints, policyTypes: types, ingress, egress };
}

function parsePolicyTypes(
  ctx: ParseContext,
  e: Entry | undefined,
  where: string,
  egress: PolicyRule[] | undefined,
): ("Ingress" | "Egress")[] | undefined {
  // Kubernetes defaulting: Ingress always, Egress when the policy has egress rules.
  if (!e) return egress && egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
  const items = ctx.r.list(e.value, `${where}.policyTypes`, "policyTypes: [Ingress, Egress]");
  if (!items) return undefined;
  const types: ("Ingress" | "Egress")[] = [];
  for (const item of items) {
    const v = isScalar(item) ? item.value : undefined;
    if (v !== "Ingress" && v !== "Egress") {
      ctx.report.error(
        item,
        `${where}.policyTypes may hold Ingress and Egress, got ${describeValue(item)}` +
          (typeof v === "string" ? didYouMean(v, ["Ingress", "Egress"]) : ""),
        "policyTypes: [Ingress, Egress]",
      );
      return undefined;
    }
    if (types.includes(v)) {
      ctx.report.error(item, `${v} appears twice in ${where}.policyTypes`, "keep one of them");
      return undefined;
    }
    types.push(v);
  }
  if (types.length === 0) {
    ctx.report.error(
      e.value,
      `${where}.policyTypes is empty`,
      "list Ingress, Egress or both, or remove it",
    );
    return undefined;
  }
  return types;
}

function parseRules(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
  peersKey: "from" | "to",
  dialect: SpecDialect,
): PolicyRule[] | undefined {
  if (isScalar(node) && node.value === null) return [];
  const items = ctx.r.list(
    node,
    where,
    `[{${peersKey}: [{podSelector: {}}], ports: [{port: 80}]}]`,
  );
  if (!items) return undefined;
  const rules: PolicyRule[] = [];
  let ok = true;
  for (const [i, item] of items.entries()) {
    const w = `${where}[${i}]`;
    if (isScalar(item) && item.value === null) {
      rules.push({ peers: null, ports: null });
      continue;
    }
    const m = ctx.r.map(
      item,
      w,
      `in ${w}`,
      [peersKey, "ports"],
      `{${peersKey}: [...], ports: [...]}`,
    );
    if (!m || m.unknownKeys.length > 0) {
      ok = false;
      continue;
    }
    const pe = m.get(peersKey);
    const po = m.get("ports");
    const peers = pe ? parsePeers(ctx, pe.value, `${w}.${peersKey}`, dialect) : null;
    const ports = po ? parsePorts(ctx, po.value, `${w}.ports`) : null;
    if (peers === undefined || ports === undefined) {
      ok = false;
      continue;
    }
    // Missing or empty: matches everything (Kubernetes).
    rules.push({
      peers: peers && peers.length > 0 ? peers : null,
      ports: ports && ports.length > 0 ? ports : null,
    });
  }
  return ok ? rules : undefined;
}

function parsePeers(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
  dialect: SpecDialect,
): PolicyPeer[] | undefined {
  if (isScalar(node) && node.value === null) return [];
  const items = ctx.r.list(node, where, "[{podSelector: {matchLabels: {app: x}}}]");
  if (!items) return undefined;
  const out: PolicyPeer[] = [];
  let ok = true;
  const nsKey = dialect.networkSelectorKey;
  for (const [i, item] of items.entries()) {
    const w = `${where}[${i}]`;
    const m = ctx.r.map(
      item,
      w,
      `in ${w}`,
      ["podSelector", nsKey, "ipBlock"],
      `{podSelector: {...}, ${nsKey}: {...}} or {ipBlock: {cidr: ...}}`,
    );
    if (!m || m.unknownKeys.length > 0) {
      ok = false;
      continue;
    }
    const pod = m.get("podSelector");
    const ns = m.get(nsKey);
    const ip = m.get("ipBlock");
    if (ip && (pod || ns)) {
      ctx.report.error(
        (pod ?? ns)!.key,
        `${w}: ipBlock stands alone; it cannot be combined with podSelector or ${nsKey}`,
        "split them into two entries of the list (they are ORed)",
      );
      ok = false;
      continue;
    }
    if (!ip && !pod && !ns) {
      ctx.report.error(
        item,
        `${w} selects nothing: give podSelector, ${nsKey} or ipBlock`,
        "e.g. {podSelector: {}} for every endpoint of the policy's network",
      );
      ok = false;
      continue;
    }
    if (ip) {
      const block = parseIpBlock(ctx, ip.value, `${w}.ipBlock`);
      if (block) out.push(block);
      else ok = false;
      continue;
    }
    const endpoints = pod ? parseSelector(ctx, pod.value, `${w}.podSelector`) : everything();
    const networks = ns ? parseSelector(ctx, ns.value, `${w}.${nsKey}`) : null;
    if (!endpoints || networks === undefined) {
      ok = false;
      continue;
    }
    out.push({ kind: "endpoints", networks, endpoints });
  }
  return ok ? out : undefined;
}

function cidrOf(ctx: ParseContext, node: YNode | null, where: string): Cidr | undefined {
  const text = ctx.r.string(node, where, "cidr: 10.32.0.0/16");
  if (text === undefined) return undefined;
  const c = parseCidr(text);
  if (!c) {
    ctx.report.error(
      node,
      `"${text}" is not a CIDR`,
      "write address/prefix-length, e.g. 10.32.0.0/16",
    );
    return undefined;
  }
  if (networkAddress(c).value !== c.address.value) {
    ctx.report.error(
      node,
      `${where} ${text} has host bits set; did you mean ${
        formatCidr({ address: networkAddress(c), prefixLength: c.prefixLength })
      }?`,
      "write the network address",
    );
    return undefined;
  }
  return c;
}

function parseIpBlock(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): PolicyPeer | undefined {
  const m = ctx.r.map(
    node,
    where,
    `in ${where}`,
    ["cidr", "except"],
    "{cidr: 10.32.0.0/16, except: [10.32.9.0/24]}",
  );
  if (!m || m.unknownKeys.length > 0) return undefined;
  const ce = m.get("cidr");
  if (!ce) {
    ctx.report.error(node, `${where} has no cidr`, "e.g. {cidr: 10.32.0.0/16}");
    return undefined;
  }
  const cidr = cidrOf(ctx, ce.value, `${where}.cidr`);
  const except: string[] = [];
  let ok = cidr !== undefined;
  const ee = m.get("except");
  const items = ee ? ctx.r.list(ee.value, `${where}.except`, "except: [10.32.9.0/24]") : [];
  if (!items) return undefined;
  for (const item of items) {
    const x = cidrOf(ctx, item, `${where}.except`);
    if (!x || !cidr) {
      ok = false;
      continue;
    }
    const inside = x.address.family === cidr.address.family && x.prefixLength > cidr.prefixLength &&
      addressInSubnet(x.address, cidr) && subnetsOverlap(x, cidr);
    if (!inside) {
      ctx.report.error(
        item,
        `except ${formatCidr(x)} is not inside cidr ${formatCidr(cidr)}`,
        "every except must be a smaller block inside cidr, as in Kubernetes",
      );
      ok = false;
      continue;
    }
    except.push(formatCidr(x));
  }
  return ok ? { kind: "ipBlock", cidr: formatCidr(cidr!), except } : undefined;
}

function parsePorts(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): PolicyPort[] | undefined {
  if (isScalar(node) && node.value === null) return [];
  const items = ctx.r.list(node, where, "[{protocol: TCP, port: 80}]");
  if (!items) return undefined;
  const out: PolicyPort[] = [];
  let ok = true;
  for (const [i, item] of items.entries()) {
    const port = parsePort(ctx, item, `${where}[${i}]`);
    if (port) out.push(port);
    else ok = false;
  }
  return ok ? out : undefined;
}

function parsePort(ctx: ParseContext, item: YNode | null, where: string): PolicyPort | undefined {
  const m = ctx.r.map(
    item,
    where,
    `in ${where}`,
    ["protocol", "port", "endPort"],
    "{protocol: TCP, port: 80}",
  );
  if (!m || m.unknownKeys.length > 0) return undefined;
  let protocol: PolicyProtocol = "TCP";
  const pe = m.get("protocol");
  if (pe) {
    const v = isScalar(pe.value) ? pe.value.value : undefined;
    const found = PROTOCOLS.find((p) => p === v);
    if (!found) {
      ctx.report.error(
        pe.value,
        `${where}.protocol must be TCP, UDP or SCTP, got ${describeValue(pe.value)}` +
          (typeof v === "string" ? didYouMean(v, PROTOCOLS) : ""),
        "protocols are upper case, as in Kubernetes; TCP when absent",
      );
      return undefined;
    }
    protocol = found;
  }
  const portE = m.get("port");
  let port: number | null = null;
  if (portE) {
    const v = isScalar(portE.value) ? portE.value.value : undefined;
    if (typeof v === "string") {
      ctx.report.error(
        portE.value,
        `named port "${v}" cannot be mapped: weave workloads declare no named container ports`,
        "write the port number, e.g. port: 80",
      );
      return undefined;
    }
    const n = ctx.r.integer(portE.value, `${where}.port`, 1, 65535, "port: 80");
    if (n === undefined) return undefined;
    port = n;
  }
  const endE = m.get("endPort");
  let endPort: number | null = null;
  if (endE) {
    if (port === null) {
      ctx.report.error(
        endE.key,
        `${where}.endPort needs a numeric port: the range is port..endPort`,
        "add port: with the first port of the range",
      );
      return undefined;
    }
    const n = ctx.r.integer(
      endE.value,
      `${where}.endPort`,
      port,
      65535,
      `endPort: ${Math.min(port + 10, 65535)}`,
    );
    if (n === undefined) return undefined;
    endPort = n;
  }
  return { protocol, port, endPort };
}
