/**
 * Check items of the `peers` and `datapath` groups: each other peer's control port answers,
 * and which datapath each pair will get from this side's point of view.
 *
 * @module
 */

import { DESCRIBE_LIST_MAX, describeList, peerEndpointText } from "../../config/mod.ts";
import type { Config, Peer } from "../../config/types.ts";
import type { KernelDatapathCaps } from "../../datapath/kernel_probe.ts";
import { type FastdpCapability, localFastdpCapability } from "../datapath_choice.ts";
import { type CheckItem, item } from "./item.ts";
import { myNetworks } from "./items_host.ts";

/** Result of a TCP connect to a peer's control port. */
export type ReachProbe =
  | { ok: true; ms: number }
  | { ok: false; reason: "refused" | "timeout" | "unreachable" | "error"; message: string };

/**
 * A pair in which one end has no address: the one without dials the other; two such boxes
 * cannot connect to each other at all (they could only meet through a peer with an address).
 */
export function dialOutItem(peer: Peer, self: Peer): CheckItem {
  const id = `peer.${peer.name}`;
  if (!self.endpoint && !peer.endpoint) {
    // Shown, not warned: in a NATed fleet most pairs are like this, and that is by design.
    return item(
      id,
      "peers",
      "ok",
      `${peer.name} and this box are both dial-out only: they cannot connect to each other ` +
        "directly and can only meet through a peer that has an address",
    );
  }
  return item(
    id,
    "peers",
    "ok",
    `${peer.name} is dial-out only (no address): it dials this box; nobody dials it`,
  );
}

/** A dial-out-only box needs at least one peer with an address to dial. */
export function dialablePeersItem(config: Config, self: Peer): CheckItem | null {
  if (self.endpoint) return null;
  const dialable = config.peers.filter((p) => p !== self && p.endpoint);
  if (dialable.length > 0) {
    return item(
      "peers.dialable",
      "peers",
      "ok",
      `this box is dial-out only; it dials ${describeList(dialable.map((p) => p.name), "peers")}`,
    );
  }
  return item(
    "peers.dialable",
    "peers",
    "warning",
    "this box is dial-out only and no other peer has an address: it has nobody to dial",
    "give at least one peer a fixed address or DNS name that this box can reach",
  );
}

/**
 * The fleet's view (#15), the same on every box: which peers are dial-out only, and which
 * pairs can only meet through a peer that has an address (both ends dial-out only); a warning
 * when a dial-out-only peer has nobody it could dial. Null for a fleet where every peer has one.
 */
export function natFleetItem(config: Config): CheckItem | null {
  const out = config.peers.filter((p) => !p.endpoint);
  if (out.length === 0) return null;
  const reachable = config.peers.filter((p) => p.endpoint);
  // Only the pairs shown are built: 1,000 boxes behind NATs make half a million.
  const pairCount = out.length * (out.length - 1) / 2;
  const pairs: string[] = [];
  for (let i = 0; i < out.length && pairs.length < DESCRIBE_LIST_MAX; i++) {
    for (let j = i + 1; j < out.length && pairs.length < DESCRIBE_LIST_MAX; j++) {
      pairs.push(`${out[i].name}–${out[j].name}`);
    }
  }
  const names = describeList(out.map((p) => p.name), "peers");
  const shownPairs = describeList(pairs, "pairs", { total: pairCount });
  const meet = pairCount > 0
    ? `; these pairs can only meet through a peer that has an address (${
      describeList(reachable.map((p) => p.name), "peers") || "none"
    }): ${shownPairs}`
    : "";
  const found = `dial-out only (no address; they dial, nobody dials them): ${names}${meet}`;
  if (reachable.length === 0) {
    return item(
      "fleet.dial-out",
      "peers",
      "warning",
      `${found}; no peer has an address, so none of them has anybody to dial`,
      "give at least one peer a fixed address or DNS name the others can reach",
    );
  }
  return item("fleet.dial-out", "peers", "ok", found);
}

/** A peer's control port answers TCP; if not, why and what to do. */
export function reachabilityItem(peer: Peer, self: Peer, r: ReachProbe, timeoutMs: number) {
  const id = `peer.${peer.name}`;
  const at = peerEndpointText(peer);
  if (r.ok) return item(id, "peers", "ok", `${peer.name} ${at} accepts TCP (${r.ms} ms)`);
  const found = {
    refused: `${peer.name} ${at} refused the connection: no agent listening there`,
    timeout: `${peer.name} ${at} did not answer within ${timeoutMs} ms`,
    unreachable: `${peer.name} ${at} is unreachable (${r.message})`,
    error: `${peer.name} ${at}: ${r.message}`,
  }[r.reason];
  const fix = r.reason === "refused"
    ? `start weave-agent on ${peer.name} (weave-agent up), and check its port: setting`
    : `check that ${peer.name} is up and that firewalls on the path allow TCP ${peer.port} and ` +
      `UDP ${peer.port} from ${self.address || "this box"} (on ${peer.name}: nft list ruleset)`;
  return item(id, "peers", "warning", found, fix);
}

/**
 * One item per other peer: the datapath the pair will get from this side's point of view, and
 * why. The remote side's capabilities are only known at run time, so a capable box says
 * "fast datapath if …".
 */
export function datapathItems(
  config: Config,
  self: Peer,
  kernel: KernelDatapathCaps | null,
): CheckItem[] {
  const encrypted = config.password !== null;
  const cap: FastdpCapability | null = kernel
    ? localFastdpCapability(config.datapath, encrypted, kernel, self)
    : null;
  const mine = new Set(myNetworks(config, self).map((n) => n.name));
  return config.peers.filter((p) => p.name !== self.name).map((p) => {
    const id = `datapath.${p.name}`;
    const shared = config.networks.filter((n) =>
      mine.has(n.name) && n.members.some((m) => m.peer === p.name)
    ).map((n) => n.name);
    const nets = shared.length ? ` (${shared.join(", ")})` : " (no shared network)";
    const natted = [p, self].find((x) => !x.endpoint);
    const named = [p, self].find((x) => x.endpoint?.kind === "dns");
    if (!natted && named && config.datapath !== "fastdp") {
      return item(
        id,
        "datapath",
        "ok",
        `${p.name}: sleeve: ${named === self ? "this box" : p.name} is given by DNS name; the ` +
          `fast datapath needs both ends' addresses fixed${nets}`,
      );
    }
    if (natted && config.datapath !== "fastdp") {
      return item(
        id,
        "datapath",
        "ok",
        `${p.name}: sleeve: ${natted === self ? "this box" : p.name} is dial-out only (behind ` +
          `NAT); the fast datapath needs both ends to reach each other directly${nets}`,
      );
    }
    if (config.datapath === "sleeve") {
      return item(
        id,
        "datapath",
        "ok",
        `${p.name}: sleeve: the config sets datapath: sleeve${nets}`,
      );
    }
    if (!cap || !kernel) {
      return item(
        id,
        "datapath",
        "warning",
        `${p.name}: unknown: the kernel probe did not run${nets}`,
        "see the kernel.* items",
      );
    }
    if (!cap.capable) {
      const reason = encrypted && !kernel.esp && kernel.vxlan
        ? `this kernel lacks ESP rfc4106(gcm(aes)) and a password is set`
        : cap.reason;
      if (config.datapath === "fastdp") {
        return item(
          id,
          "datapath",
          "failure",
          `${p.name}: none: the config demands fastdp but ${reason}${nets}`,
          "set datapath: auto to fall back to the sleeve, or fix the kernel.* items",
        );
      }
      return item(id, "datapath", "ok", `${p.name}: sleeve: ${reason}${nets}`);
    }
    return item(
      id,
      "datapath",
      "ok",
      `${p.name}: fast datapath (${cap.reason}) if ${p.name} can do it too and VXLAN heartbeats ` +
        `get through, else sleeve; ${p.name}'s capabilities are negotiated at run time${nets}`,
    );
  });
}
