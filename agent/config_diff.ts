/**
 * What a reload changes. Pure: compares two validated configs from one box's point of view, so
 * the agent touches only what changed (peers, networks, metrics) and restarts sessions only when
 * their keys or endpoints change.
 *
 * @module
 */

import type { Config } from "../config/types.ts";

/** The effects of replacing `prev` by `next` on the box named `self`. */
export interface ConfigDiff {
  /** Sessions must be re-made: password, port, own address or datapath mode changed. */
  restartControl: boolean;
  /** The sleeve's socket must be re-bound: own address or port changed. */
  restartSleeve: boolean;
  peersChanged: boolean;
  removedPeers: string[];
  addedPeers: string[];
  networksChanged: boolean;
  /** Workloads, routes or policies changed: the host must be reconciled (one nft transaction). */
  hostChanged: boolean;
  metricsChanged: boolean;
  /** One phrase per change, for the log and `status`. */
  summary: string[];
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function diffConfigs(
  prev: Config,
  next: Config,
  self: string,
  prevPassword: Uint8Array | null,
  nextPassword: Uint8Array | null,
): ConfigDiff {
  const summary: string[] = [];
  const me = (c: Config) => c.peers.find((p) => p.name === self);
  const a = me(prev), b = me(next);
  const restartSleeve = a?.address !== b?.address || a?.port !== b?.port;
  if (restartSleeve) summary.push("own underlay address or port changed");
  const passwordChanged = !bytesEqual(prevPassword, nextPassword);
  if (passwordChanged) summary.push("password changed: sessions re-keyed");
  const modeChanged = prev.datapath !== next.datapath || prev.vxlanPort !== next.vxlanPort ||
    prev.underlayMtu !== next.underlayMtu;
  if (modeChanged) summary.push("datapath settings changed");
  const restartControl = restartSleeve || passwordChanged || modeChanged;

  const key = (p: { name: string; address: string; port: number }) =>
    `${p.name}@${p.address}:${p.port}`;
  const prevPeers = new Map(prev.peers.map((p) => [p.name, key(p)]));
  const nextPeers = new Map(next.peers.map((p) => [p.name, key(p)]));
  const removedPeers = [...prevPeers.keys()].filter((n) =>
    !nextPeers.has(n) || nextPeers.get(n) !== prevPeers.get(n)
  );
  const addedPeers = [...nextPeers.keys()].filter((n) =>
    !prevPeers.has(n) || nextPeers.get(n) !== prevPeers.get(n)
  );
  const peersChanged = removedPeers.length + addedPeers.length > 0;
  if (removedPeers.length) summary.push(`peers removed or moved: ${removedPeers.join(", ")}`);
  if (addedPeers.length) summary.push(`peers added or moved: ${addedPeers.join(", ")}`);

  const netKey = (c: Config) =>
    JSON.stringify(
      c.networks.map((n) => ({ ...n, members: n.members.map((m) => [m.peer, m.address]) })),
    );
  const networksChanged = netKey(prev) !== netKey(next);
  if (networksChanged) summary.push("networks changed");
  const hostKey = (c: Config) => JSON.stringify([c.workloads, c.routes, c.policies]);
  const hostChanged = hostKey(prev) !== hostKey(next);
  if (hostChanged) summary.push("workloads, routes or policies changed");
  const metricsChanged = JSON.stringify(prev.metrics) !== JSON.stringify(next.metrics);
  if (metricsChanged) summary.push("metrics endpoint changed");
  return {
    restartControl,
    restartSleeve,
    peersChanged,
    removedPeers,
    addedPeers,
    networksChanged,
    hostChanged,
    metricsChanged,
    summary,
  };
}
