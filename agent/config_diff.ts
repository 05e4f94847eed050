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
  /**
   * Sessions must be re-made: encryption turned on or off, port, own address, datapath mode
   * or rekey timing changed. (The node key file is read at start only.)
   */
  restartControl: boolean;
  /**
   * Only the passwords' bytes changed (current or previous): the sessions rekey under the new
   * ones without restarting (#14); false when `restartControl` restarts them anyway.
   */
  passwordsChanged: boolean;
  /** The passwords of `next` (what `passwordsChanged` hands on). */
  passwords: { current: Uint8Array | null; previous: Uint8Array | null };
  /** The sleeve's socket must be re-bound: own address or port changed. */
  restartSleeve: boolean;
  peersChanged: boolean;
  removedPeers: string[];
  addedPeers: string[];
  networksChanged: boolean;
  /** Workloads, routes or policies changed: the host must be reconciled (one nft transaction). */
  hostChanged: boolean;
  metricsChanged: boolean;
  /** `nat_keepalive` changed: every pair is pushed to the sleeve again (#15). */
  keepaliveChanged: boolean;
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
  prevPrevious: Uint8Array | null = null,
  nextPrevious: Uint8Array | null = null,
): ConfigDiff {
  const summary: string[] = [];
  const me = (c: Config) => c.peers.find((p) => p.name === self);
  const a = me(prev), b = me(next);
  const restartSleeve = a?.address !== b?.address || a?.port !== b?.port;
  if (restartSleeve) summary.push("own underlay address or port changed");
  // On or off changes the MTU and what a session proves: that restarts them.
  const encryptionToggled = (prevPassword === null) !== (nextPassword === null);
  if (encryptionToggled) {
    summary.push(nextPassword ? "password set: sessions restarted" : "password removed");
  }
  const passwordChanged = !encryptionToggled &&
    (!bytesEqual(prevPassword, nextPassword) || !bytesEqual(prevPrevious, nextPrevious));
  if (passwordChanged) summary.push("password changed: sessions re-keyed");
  const modeChanged = prev.datapath !== next.datapath || prev.vxlanPort !== next.vxlanPort ||
    prev.underlayMtu !== next.underlayMtu;
  if (modeChanged) summary.push("datapath settings changed");
  const sessionsChanged = prev.rekeyAfterMs !== next.rekeyAfterMs ||
    prev.rejectAfterMs !== next.rejectAfterMs;
  if (sessionsChanged) summary.push("rekey timing changed");
  // Dial-out only or known by DNS name: who dials whom changes with it (#15).
  const reachChanged = !restartSleeve && JSON.stringify(a?.endpoint?.kind ?? null) !==
      JSON.stringify(b?.endpoint?.kind ?? null);
  if (reachChanged) summary.push("own address changed (dial-out only / DNS name)");
  const restartControl = restartSleeve || encryptionToggled || modeChanged || sessionsChanged ||
    reachChanged;

  const key = (p: Config["peers"][number]) =>
    `${p.name}@${JSON.stringify(p.endpoint)}:${p.address}:${p.port}:${
      p.key ? Array.from(p.key).join(".") : ""
    }`;
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
  const keepaliveChanged = prev.natKeepaliveMs !== next.natKeepaliveMs;
  if (keepaliveChanged) summary.push("nat_keepalive changed");
  return {
    restartControl,
    passwordsChanged: passwordChanged && !restartControl,
    passwords: { current: nextPassword, previous: nextPrevious },
    restartSleeve,
    peersChanged,
    removedPeers,
    addedPeers,
    networksChanged,
    hostChanged,
    metricsChanged,
    keepaliveChanged,
    summary,
  };
}
