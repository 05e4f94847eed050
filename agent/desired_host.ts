/**
 * The kernel state this box should have, from the config and the sessions: networks, ESP, this
 * box's workloads and routes (workload_plan.ts) and the fleet's policy resolved to addresses
 * (policy_resolve.ts); and the one fact the agent reads back from the observed host (its bridge
 * MACs). Pure: the agent calls it on every reconcile, `weave-agent plan` calls it without
 * sessions.
 *
 * @module
 */

import type { Config, Network, Peer } from "../config/types.ts";
import { networkMtu } from "../datapath/mtu.ts";
import type { DesiredHost, ObservedHost } from "../datapath/host/mod.ts";
import { bridgeName } from "../datapath/link_names.ts";
import { deriveEspKeys } from "../datapath/fastdp/mod.ts";
import type { SessionSecrets } from "./control/mod.ts";
import type { BridgeMacs } from "./pair_datapath.ts";
import { resolvePolicies } from "./policy_resolve.ts";
import { routesOnBox, workloadsOnBox } from "./workload_plan.ts";
import type { PairEsp } from "./session_epochs.ts";

/** A peer on (or probing) fast datapath, with its session and announced MACs. */
export interface FastPeer {
  peer: Peer;
  secrets: SessionSecrets;
  /** Bridge MACs per VNI (decimal string keys). */
  macs: Record<string, string[]>;
  /**
   * The ESP SAs of the pair's rekeyed epochs (`session_epochs.ts`); absent or null: the
   * handshake's, derived from `secrets`.
   */
  esp?: PairEsp | null;
}

/** Networks `self` is a member of. */
export function networksOf(config: Config, self: string): Network[] {
  return config.networks.filter((n) => n.members.some((m) => m.peer === self));
}

/** The overlay MTU every member of every network uses under this config. */
export function overlayMtu(config: Config, encrypted: boolean): number {
  return networkMtu({
    underlayMtu: config.underlayMtu,
    family: config.peers.some((p) => p.family === 6) ? 6 : 4,
    encrypted,
    datapath: config.datapath,
  });
}

export function buildDesiredHost(input: {
  config: Config;
  self: Peer;
  encrypted: boolean;
  fastdpCapable: boolean;
  fastPeers: FastPeer[];
}): DesiredHost {
  const { config, self, encrypted, fastdpCapable, fastPeers } = input;
  const mtu = overlayMtu(config, encrypted);
  const networks = networksOf(config, self.name).map((n) => ({
    name: n.name,
    vni: n.vni,
    mtu,
    address: n.members.find((m) => m.peer === self.name)!.address,
    prefixLength: n.prefixLength,
    sleeve: config.datapath !== "fastdp",
    fastdp: fastdpCapable,
    fdb: fastdpCapable
      ? fastPeers
        .filter((p) => n.members.some((m) => m.peer === p.peer.name))
        .map((p) => ({
          peer: p.peer.name,
          underlay: p.peer.address,
          macs: p.macs[String(n.vni)] ?? [],
        }))
      : [],
  }));
  const esp = encrypted && fastdpCapable
    ? fastPeers.map((p) => ({
      peer: p.peer.name,
      local: self.address,
      remote: p.peer.address,
      ...(p.esp ?? deriveEspKeys(p.secrets)),
    }))
    : [];
  return {
    underlay: { address: self.address, family: self.family },
    vxlanPort: config.vxlanPort,
    networks,
    esp,
    encrypted,
    workloads: workloadsOnBox(config, self.name, mtu),
    routes: routesOnBox(config, self.name),
    policies: resolvePolicies(config).map((p) => p.desired),
  };
}

/** This box's bridge MAC per VNI, as observed. */
export function bridgeMacs(observed: Pick<ObservedHost, "links">, networks: Network[]): BridgeMacs {
  const macs: BridgeMacs = {};
  for (const n of networks) {
    const link = observed.links.find((l) => l.name === bridgeName(n.name));
    if (link?.address) macs[String(n.vni)] = [link.address];
  }
  return macs;
}
