/**
 * Check items of the `config` identity and `underlay` groups: this box is a peer, its underlay
 * address is on a link here, and that link's MTU carries `underlay_mtu`.
 *
 * @module
 */

import { describeList, didYouMean, findSelf } from "../../config/mod.ts";
import type { Config, Peer } from "../../config/types.ts";
import { type CheckItem, item } from "./item.ts";

/** One link of `ip -json addr`. */
export interface IpAddrLink {
  ifname: string;
  mtu?: number;
  operstate?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** This box is a peer of the config; else the peer names, a suggestion and `--name`. */
export function identityItem(
  config: Config,
  name: string,
  fromFlag: boolean,
): CheckItem {
  const self = findSelf(config, name);
  if (self) {
    return item(
      "config.identity",
      "config",
      "ok",
      `this box is ${name} (peer ${self.index + 1} of ${config.peers.length}, ${
        fromFlag ? "--name" : "hostname"
      })`,
    );
  }
  const names = config.peers.map((p) => p.name);
  return item(
    "config.identity",
    "config",
    "failure",
    `this box is "${name}" (${fromFlag ? "--name" : "hostname"}), which is not a peer` +
      `${didYouMean(name, names)} (peers: ${describeList(names, null)})`,
    `pass --name with the peer this box is (one of: ${describeList(names, null)})`,
  );
}

/** The link holding `address`, if any. */
export function linkWithAddress(links: IpAddrLink[], address: string): IpAddrLink | undefined {
  return links.find((l) => (l.addr_info ?? []).some((a) => a.local === address));
}

/**
 * What a box without an IP literal in the config can be told about its underlay address: a
 * dial-out-only box may have any address (it dials out); a DNS-named one is found by the name.
 * Null for an IP peer.
 */
function notAnIpPeer(self: Peer): string | null {
  if (!self.endpoint) {
    return "dial-out only (no address in the config): any address works; this box dials the " +
      "peers that have one";
  }
  if (self.endpoint.kind === "dns") {
    return `given by DNS name ${self.endpoint.host}: the peers resolve it at every dial; make ` +
      "sure it points at this box";
  }
  return null;
}

/** The peer's underlay address is configured on a link of this box. */
export function underlayAddressItem(self: Peer, links: IpAddrLink[]): CheckItem {
  const other = notAnIpPeer(self);
  if (other) return item("underlay.address", "underlay", "ok", other);
  const link = linkWithAddress(links, self.address);
  if (link) {
    return item(
      "underlay.address",
      "underlay",
      "ok",
      `${self.address} is on ${link.ifname}${link.operstate ? ` (${link.operstate})` : ""}`,
    );
  }
  const present = links.flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.local && !a.local.startsWith("fe80:") && l.ifname !== "lo")
      .map((a) => `${a.local} (${l.ifname})`)
  );
  return item(
    "underlay.address",
    "underlay",
    "failure",
    `${self.name}'s address ${self.address} is not on this box` +
      (present.length ? `; it has ${present.slice(0, 6).join(", ")}` : "; it has no addresses"),
    `correct peers[${self.index}].address in the config, or pass --name with the peer this box ` +
      `is, or add it: ip addr add ${self.address}/${self.family === 4 ? 24 : 64} dev <link>`,
  );
}

/** MTU of the underlay link vs `underlay_mtu`: a smaller link would drop full-size frames. */
export function underlayMtuItem(config: Config, self: Peer, links: IpAddrLink[]): CheckItem {
  if (notAnIpPeer(self)) {
    return item(
      "underlay.mtu",
      "underlay",
      "ok",
      `not checked: this peer has no IP address in the config; the link to the underlay must ` +
        `carry underlay_mtu ${config.underlayMtu}`,
    );
  }
  const link = linkWithAddress(links, self.address);
  if (!link || link.mtu === undefined) {
    return item(
      "underlay.mtu",
      "underlay",
      "warning",
      `cannot tell: ${self.address} is not on a link of this box`,
      "fix underlay.address first",
    );
  }
  if (link.mtu < config.underlayMtu) {
    return item(
      "underlay.mtu",
      "underlay",
      "failure",
      `${link.ifname} has MTU ${link.mtu}, less than underlay_mtu ${config.underlayMtu}: ` +
        "full-size overlay frames would not fit",
      `set underlay_mtu: ${link.mtu} in the config (every peer must use the same value)`,
    );
  }
  return item(
    "underlay.mtu",
    "underlay",
    "ok",
    link.mtu === config.underlayMtu
      ? `${link.ifname} MTU ${link.mtu} = underlay_mtu`
      : `${link.ifname} MTU ${link.mtu} >= underlay_mtu ${config.underlayMtu}`,
  );
}
