/**
 * Which peer this box is, and what the config means for it, in words an operator can check
 * at a glance (`weave-agent validate`).
 *
 * @module
 */

import { networkMtu } from "../datapath/mtu.ts";
import { didYouMean } from "./did_you_mean.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { formatHostPort } from "./ip.ts";
import type { Config, Peer } from "./types.ts";

/** The peer named `name`, if the config lists it. */
export function findSelf(config: Config, name: string): Peer | undefined {
  return config.peers.find((p) => p.name === name);
}

/** True when the peer has a fixed IP address in weave.yaml (not a DNS name, not dial-out only). */
export function hasFixedAddress(p: Peer): boolean {
  return p.endpoint?.kind === "ip";
}

/** Where a peer is dialled, for messages: `192.0.2.10:6783`, `edge-7.example.net:6783`, or
 * `dial-out only` for a peer without an address. */
export function peerEndpointText(peer: Peer): string {
  const e = peer.endpoint;
  if (!e) return "dial-out only";
  return formatHostPort(e.kind === "ip" ? e.ip : e.host, e.port);
}

/** Most entries a list in a description shows; a fleet's is summed up past it. */
export const DESCRIBE_LIST_MAX = 20;

/** How {@link describeList} joins and counts. */
export interface DescribeListOptions {
  /** Joins the items shown. Default `", "`. */
  separator?: string;
  /** How many items the list has, when `items` holds only its first ones (more than
   * {@link DESCRIBE_LIST_MAX} of them, so that it is summed up). Default `items.length`. */
  total?: number;
}

/**
 * `a, b, c`, or for a long list `10000 peers: a, b, … (9980 more)`: a line stays readable for
 * a fleet of thousands (weave.yaml itself lists them all). `what` null leaves out the count in
 * front, for a line that states it already.
 */
export function describeList(
  items: readonly string[],
  what: string | null,
  options: DescribeListOptions = {},
): string {
  const { separator = ", ", total = items.length } = options;
  if (total <= DESCRIBE_LIST_MAX) return items.join(separator);
  return `${what === null ? "" : `${total} ${what}: `}${
    items.slice(0, DESCRIBE_LIST_MAX).join(separator)
  }${separator}… (${total - DESCRIBE_LIST_MAX} more)`;
}

/**
 * A short summary of the config from the point of view of peer `name`: who it is, where it
 * listens, the peers it connects to, its networks (subnet, own address, VNI, MTU, members),
 * datapath and encryption (the password's source, never the password). When `name` is not a
 * peer, a formatted error diagnostic instead, with a suggestion among the peer names.
 */
export function describeForPeer(config: Config, name: string): string {
  const self = findSelf(config, name);
  if (!self) {
    const names = config.peers.map((p) => p.name);
    return formatDiagnostic({
      severity: "error",
      file: config.path,
      line: 1,
      column: 1,
      message: `this box is "${name}", which is not a peer in the config` +
        didYouMean(name, names),
      hint: `pass --name with one of: ${describeList(names, "peers")}`,
    });
  }
  const encrypted = config.password !== null;
  const underlayFamily = config.peers.some((p) => p.family === 6) ? 6 : 4;
  const mtu = networkMtu({
    underlayMtu: config.underlayMtu,
    family: underlayFamily,
    encrypted,
    datapath: config.datapath,
  });
  const lines: string[] = [];
  lines.push(
    `peer ${self.name} (peer ${self.index + 1} of ${config.peers.length}) in ${config.path}`,
  );
  lines.push(
    `  underlay: ${peerEndpointText(self)} (control TCP, sleeve UDP), ` +
      `VXLAN UDP ${config.vxlanPort}, underlay MTU ${config.underlayMtu}`,
  );
  const others = config.peers.filter((p) => p !== self);
  lines.push(
    others.length === 0
      ? "  connects to: nobody (the only peer)"
      : `  connects to: ${
        describeList(others.map((p) => `${p.name} ${peerEndpointText(p)}`), "peers")
      }`,
  );
  lines.push(`  datapath: ${config.datapath}`);
  const source = config.password;
  lines.push(
    source === null
      ? "  encryption: OFF (no password; traffic crosses the underlay in clear text)"
      : `  encryption: on, password from ${
        source.kind === "file" ? `file ${source.path}` : `environment variable ${source.name}`
      }`,
  );
  const mine = config.networks.filter((n) => n.members.some((m) => m.peer === self.name));
  const notMine = config.networks.filter((n) => !mine.includes(n));
  if (mine.length === 0) lines.push("  networks: none (this peer is a member of no network)");
  for (const n of mine) {
    const me = n.members.find((m) => m.peer === self.name)!;
    lines.push(
      `  network ${n.name}: ${n.subnet}, address ${me.address}${me.derived ? " (derived)" : ""}, ` +
        `vni ${n.vni}${n.vniDerived ? " (derived)" : ""}, mtu ${mtu}`,
    );
    const members = n.members.map((m) => `${m.peer} ${m.address}`);
    lines.push(`    members: ${describeList(members, "members")}`);
  }
  if (notMine.length > 0) {
    lines.push(`  not a member of: ${notMine.map((n) => n.name).join(", ")}`);
  }
  return lines.join("\n");
}
