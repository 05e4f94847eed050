/**
 * The items of `weave-agent check`, each computed by a pure function from what was observed on
 * the box (versions, `ip -json` output, probe results, bind and connect outcomes). The I/O that
 * gathers those observations is in `check_host.ts`; the orchestration in `check.ts`.
 *
 * Item ids are stable (scripts match on them in `check --json`):
 *
 * | id                          | group      | what                                               |
 * | --------------------------- | ---------- | -------------------------------------------------- |
 * | `privileges`                | privileges | root, or CAP_NET_ADMIN in the effective set        |
 * | `tool.ip` `tool.bridge` `tool.nft` | tools | present and new enough                           |
 * | `kernel.<capability>`       | kernel     | from the kernel probe: `kernel.bridge`, `kernel.vxlan`, `kernel.tun`, `kernel.nftables`, `kernel.xfrm`, `kernel.esp-gcm` |
 * | `crypto.sleeve`             | crypto     | the sleeve's AES-256-GCM: libcrypto or @noble      |
 * | `config.valid`              | config     | the file loads without errors                      |
 * | `config.warnings`           | config     | warnings the loader reported (other than password) |
 * | `config.identity`           | config     | this box (--name or hostname) is a peer            |
 * | `underlay.address`          | underlay   | this peer's underlay address is on this box        |
 * | `underlay.mtu`              | underlay   | MTU of that link vs `underlay_mtu`                 |
 * | `password.source`           | password   | set, readable, private                             |
 * | `password.strength`         | password   | estimated guessing entropy                         |
 * | `subnet.<network>`          | host       | no route/address on the box overlaps the subnet    |
 * | `vni.<network>`             | host       | no foreign VXLAN device uses the VNI               |
 * | `port.control`              | ports      | control TCP port bindable                          |
 * | `port.sleeve`               | ports      | sleeve UDP port bindable                           |
 * | `port.vxlan`                | ports      | VXLAN UDP port bindable                            |
 * | `peer.<name>`               | peers      | TCP reachability of the peer's control port        |
 * | `datapath.<name>`           | datapath   | which datapath the pair will get, and why          |
 *
 * @module
 */

import type { Config, Network, Peer } from "../../config/types.ts";
import { formatHostPort, subnetsOverlap } from "../../config/ip.ts";
import { isOwnedLink } from "../../datapath/link_names.ts";
import { type FastdpCapability, localFastdpCapability } from "../datapath_choice.ts";
import { estimatePasswordStrength, WEAK_PASSWORD_BITS } from "./password_strength.ts";

/** Outcome of one item. */
export type CheckStatus = "ok" | "warning" | "failure";

/** One line of the preflight report. */
export interface CheckItem {
  /** Stable identifier, e.g. `port.control`, `peer.edge-2` (see the module doc). */
  id: string;
  /** Section it belongs to, e.g. `ports`. */
  group: string;
  status: CheckStatus;
  /** What was found, in words. */
  found: string;
  /** The exact action that fixes it (for warnings and failures). */
  fix?: string;
}

function item(
  id: string,
  group: string,
  status: CheckStatus,
  found: string,
  fix?: string,
): CheckItem {
  return fix === undefined ? { id, group, status, found } : { id, group, status, found, fix };
}

// ---------------------------------------------------------------------------------------------
// privileges and tools

const CAP_NET_ADMIN = 12n;

/** The effective capability set from /proc/self/status text, or null. */
export function parseCapEff(procStatus: string): bigint | null {
  const m = procStatus.match(/^CapEff:\s*([0-9a-fA-F]+)\s*$/m);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** Root, or at least CAP_NET_ADMIN (enough for links, xfrm and nft; TUN needs it too). */
export function privilegesItem(uid: number | null, capEff: bigint | null): CheckItem {
  const netAdmin = capEff !== null && ((capEff >> CAP_NET_ADMIN) & 1n) === 1n;
  if (uid === 0 && netAdmin) return item("privileges", "privileges", "ok", "root (CAP_NET_ADMIN)");
  if (netAdmin) {
    return item("privileges", "privileges", "ok", `uid ${uid} with CAP_NET_ADMIN`);
  }
  return item(
    "privileges",
    "privileges",
    "failure",
    `uid ${uid ?? "?"} without CAP_NET_ADMIN: cannot create links, xfrm states or nft tables`,
    "run as root (sudo weave-agent …) or grant it: setcap cap_net_admin+ep $(command -v weave-agent)",
  );
}

/** A version as [major, minor, patch]. */
export type Version = [number, number, number];

/** `ip -V` / `bridge -V` output → version. Knows `iproute2-6.1.0` and the old `iproute2-ss190107`. */
export function parseIproute2Version(text: string): Version | null {
  // `ip -V`: "ip utility, iproute2-6.1.0, libbpf 1.1.2"; `bridge -V`: "bridge utility, 6.1.0".
  const m = text.match(/(?:iproute2-|utility, )(\d+)\.(\d+)(?:\.(\d+))?/);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const ss = text.match(/iproute2-ss(\d{6})/);
  if (!ss) return null;
  // Snapshot tags are release dates: 5.0 was tagged 2019-03-04, 4.14 on 2017-11-13.
  const date = Number(ss[1]);
  return date >= 190304 ? [5, 0, 0] : date >= 171113 ? [4, 14, 0] : [4, 0, 0];
}

/** `nft --version` output (`nftables v1.0.6 (Lester Gooch #5)`) → version. */
export function parseNftVersion(text: string): Version | null {
  const m = text.match(/nftables v(\d+)\.(\d+)(?:\.(\d+))?/);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

function below(v: Version, min: Version): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] < min[i];
  return false;
}

const vtext = (v: Version) => v.join(".");

/**
 * Minimum versions. iproute2: `ip -json` for routes and `-d` link details (VXLAN id and port)
 * works from 4.14 (below: failure); 5.0 is the oldest we consider tested (below: warning) — it
 * fixed the JSON of `bridge fdb` and `ip -d link` that plans are compared against. nft: the
 * `inet` family with `-f -` atomic replacement needs 0.9.0; 0.9.3 is the tested minimum.
 */
export const TOOL_MINIMUMS: Record<
  "ip" | "bridge" | "nft",
  { required: Version; tested: Version; pkg: string }
> = {
  ip: { required: [4, 14, 0], tested: [5, 0, 0], pkg: "iproute2" },
  bridge: { required: [4, 14, 0], tested: [5, 0, 0], pkg: "iproute2" },
  nft: { required: [0, 9, 0], tested: [0, 9, 3], pkg: "nftables" },
};

/** A tool item from its version output (null: not found / would not run). */
export function toolItem(tool: "ip" | "bridge" | "nft", versionOutput: string | null): CheckItem {
  const id = `tool.${tool}`;
  const min = TOOL_MINIMUMS[tool];
  const install = `apt-get install ${min.pkg} (or your distribution's ${min.pkg} package)`;
  if (versionOutput === null) {
    return item(id, "tools", "failure", `${tool} not found in PATH`, install);
  }
  const v = tool === "nft" ? parseNftVersion(versionOutput) : parseIproute2Version(versionOutput);
  if (!v) {
    return item(
      id,
      "tools",
      "warning",
      `${tool} present, version unknown (${versionOutput.trim().slice(0, 60)})`,
      `make sure ${min.pkg} >= ${vtext(min.tested)} is installed`,
    );
  }
  const name = `${min.pkg} ${vtext(v)}`;
  if (below(v, min.required)) {
    return item(
      id,
      "tools",
      "failure",
      `${tool}: ${name}, too old (needs >= ${vtext(min.required)})`,
      `upgrade: ${install}`,
    );
  }
  if (below(v, min.tested)) {
    return item(
      id,
      "tools",
      "warning",
      `${tool}: ${name}, older than the tested ${vtext(min.tested)}`,
      `upgrade ${min.pkg} if anything misbehaves`,
    );
  }
  return item(id, "tools", "ok", `${tool}: ${name}`);
}

// ---------------------------------------------------------------------------------------------
// kernel and crypto

/** One capability as the kernel probe reports it. */
export interface ProbeEntry {
  ok: boolean;
  detail: string;
  fix?: string;
}

function isProbeEntry(v: unknown): v is ProbeEntry {
  return typeof v === "object" && v !== null && typeof (v as ProbeEntry).ok === "boolean";
}

/** `espGcm` → `esp-gcm`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, "-");
}

/** The probe's capability entries, keyed by kebab-case id, in the probe's order. */
export function probeEntries(probe: unknown): [string, ProbeEntry][] {
  if (typeof probe !== "object" || probe === null) return [];
  return Object.entries(probe).filter((e): e is [string, ProbeEntry] => isProbeEntry(e[1]))
    .map(([k, v]) => [kebab(k), v]);
}

/**
 * One item per probed capability. Bridge, TUN and nftables are needed on every box; VXLAN only
 * for the fast datapath; xfrm and ESP-GCM only for the encrypted fast datapath. A missing
 * capability that the config can do without is a warning (its pairs use the sleeve), or a
 * failure under `datapath: fastdp`; one the config never uses is ok.
 */
export function kernelItems(
  probe: unknown,
  ctx: { datapath: Config["datapath"] | null; encrypted: boolean | null },
): CheckItem[] {
  const out: CheckItem[] = [];
  for (const [key, e] of probeEntries(probe)) {
    const id = `kernel.${key}`;
    const fixOf = (fallback: string) => e.fix ?? fallback;
    if (e.ok) {
      out.push(item(id, "kernel", "ok", `${key}: ${e.detail}`));
      continue;
    }
    const fastdpOnly = key === "vxlan";
    const encryptedFastdpOnly = key === "xfrm" || key === "esp-gcm" || key === "esp";
    if (!fastdpOnly && !encryptedFastdpOnly) {
      out.push(
        item(id, "kernel", "failure", `${key} missing: ${e.detail}`, fixOf(`enable ${key}`)),
      );
      continue;
    }
    const sleeveOnly = ctx.datapath === "sleeve";
    const unencrypted = ctx.encrypted === false;
    if (sleeveOnly || (encryptedFastdpOnly && unencrypted)) {
      const why = sleeveOnly ? "the config sets datapath: sleeve" : "no password is set";
      out.push(item(id, "kernel", "ok", `${key} missing (${e.detail}); not needed: ${why}`));
      continue;
    }
    const consequence = encryptedFastdpOnly
      ? "the sleeve will be used for encrypted pairs (userspace, slower)"
      : "the sleeve will be used for every pair (userspace, slower)";
    if (ctx.datapath === "fastdp") {
      out.push(item(
        id,
        "kernel",
        "failure",
        `${key} missing: ${e.detail}; the config demands datapath: fastdp`,
        `${fixOf(`enable ${key}`)}; or set datapath: auto`,
      ));
    } else {
      out.push(item(
        id,
        "kernel",
        "warning",
        `${key} missing: ${e.detail}; ${consequence}`,
        fixOf(`enable ${key} in the kernel`),
      ));
    }
  }
  return out;
}

/** The sleeve's crypto backend, as `sleeveCapabilities()` reports it. */
export interface SleeveCryptoCaps {
  libcrypto: boolean;
  aesni?: boolean;
  detail?: string;
}

/** libcrypto AES-256-GCM (fast) or the @noble fallback (slow, still correct). */
export function sleeveCryptoItem(caps: SleeveCryptoCaps | string): CheckItem {
  if (typeof caps === "string") {
    return item("crypto.sleeve", "crypto", "warning", `cannot tell: ${caps}`);
  }
  if (caps.libcrypto) {
    const aes = caps.aesni === undefined ? "" : caps.aesni ? ", AES-NI" : ", no AES-NI";
    return item("crypto.sleeve", "crypto", "ok", `libcrypto AES-256-GCM${aes}`);
  }
  return item(
    "crypto.sleeve",
    "crypto",
    "warning",
    `slower fallback (@noble): libcrypto not loadable${caps.detail ? ` (${caps.detail})` : ""}`,
    "apt-get install libssl3 (OpenSSL 3's libcrypto.so.3)",
  );
}

// ---------------------------------------------------------------------------------------------
// identity and underlay

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
  suggest: (word: string, candidates: string[]) => string,
): CheckItem {
  const self = config.peers.find((p) => p.name === name);
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
      `${suggest(name, names)} Peers: ${names.join(", ")}`,
    `pass --name with the peer this box is (one of: ${names.join(", ")})`,
  );
}

/** The link holding `address`, if any. */
export function linkWithAddress(links: IpAddrLink[], address: string): IpAddrLink | undefined {
  return links.find((l) => (l.addr_info ?? []).some((a) => a.local === address));
}

/** The peer's underlay address is configured on a link of this box. */
export function underlayAddressItem(self: Peer, links: IpAddrLink[]): CheckItem {
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

// ---------------------------------------------------------------------------------------------
// password

/** What the check could read about the password source. */
export interface PasswordObservation {
  /** The password text (one trailing newline stripped), null when unreadable / unset. */
  text: string | null;
  /** Why it could not be read, when `text` is null. */
  error?: string;
  /** Permission bits of the file, when it is one. */
  mode: number | null;
}

const CREATE_PASSWORD = (path: string) => `(umask 077; head -c 32 /dev/urandom | base64 > ${path})`;

/** `password.source` and `password.strength`. The password itself never appears in them. */
export function passwordItems(config: Config, obs: PasswordObservation): CheckItem[] {
  const src = config.password;
  if (src === null) {
    return [item(
      "password.source",
      "password",
      "warning",
      "no password: overlay traffic crosses the underlay unencrypted and unauthenticated",
      `add "password: { file: /etc/weave/password }" to the config and create it on every box: ` +
        CREATE_PASSWORD("/etc/weave/password"),
    )];
  }
  const where = src.kind === "file" ? `file ${src.path}` : `environment variable ${src.name}`;
  if (obs.text === null || obs.text === "") {
    return [item(
      "password.source",
      "password",
      "failure",
      `password ${where} ${obs.text === "" ? "is empty" : `cannot be read: ${obs.error ?? "?"}`}`,
      src.kind === "file"
        ? `create it: ${CREATE_PASSWORD(src.path)}`
        : `set ${src.name} for the agent (e.g. a root-only systemd EnvironmentFile=)`,
    )];
  }
  const out: CheckItem[] = [];
  if (src.kind === "file" && obs.mode !== null && (obs.mode & 0o077) !== 0) {
    const octal = (obs.mode & 0o777).toString(8).padStart(4, "0");
    out.push(item(
      "password.source",
      "password",
      "warning",
      `password file ${src.path} has mode ${octal}: group or others can read it`,
      `chmod 600 ${src.path}`,
    ));
  } else {
    out.push(item("password.source", "password", "ok", `password from ${where}`));
  }
  const s = estimatePasswordStrength(obs.text);
  if (s.bits < WEAK_PASSWORD_BITS) {
    out.push(item(
      "password.strength",
      "password",
      "warning",
      `about ${s.bits} bits (${s.weaknesses.join("; ") || "too short"}); an active attacker ` +
        "who intercepts one handshake can guess the password offline",
      `use a random one on every box: ${
        src.kind === "file" ? CREATE_PASSWORD(src.path) : "head -c 32 /dev/urandom | base64"
      }`,
    ));
  } else {
    out.push(item("password.strength", "password", "ok", `about ${s.bits} bits`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// subnets, VNIs, ports

/** One route of `ip -json route`. */
export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  protocol?: string;
}

/** One link of `ip -json -d link`. */
export interface IpDetailedLink {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number } };
}

function asCidr(dst: string): string | null {
  if (dst === "default" || dst === "") return null;
  if (dst.includes("/")) return dst;
  return dst.includes(":") ? `${dst}/128` : `${dst}/32`;
}

/** The networks `self` is a member of. */
export function myNetworks(config: Config, self: Peer): Network[] {
  return config.networks.filter((n) => n.members.some((m) => m.peer === self.name));
}

/**
 * One item per network of this peer: no route or address outside our own `wv*` links overlaps
 * its subnet (the box would send overlay traffic elsewhere, or answer for it twice).
 */
export function subnetItems(
  config: Config,
  self: Peer,
  routes: IpRoute[],
  links: IpAddrLink[],
): CheckItem[] {
  return myNetworks(config, self).map((n) => {
    const clashes: string[] = [];
    for (const r of routes) {
      const c = asCidr(r.dst);
      if (!c || (r.dev && isOwnedLink(r.dev))) continue;
      try {
        if (subnetsOverlap(c, n.subnet)) {
          clashes.push(`route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}`);
        }
      } catch { /* unparsable route (e.g. multicast table entries): not ours to judge */ }
    }
    for (const l of links) {
      if (isOwnedLink(l.ifname)) continue;
      for (const a of l.addr_info ?? []) {
        if (!a.local || a.prefixlen === undefined) continue;
        try {
          if (subnetsOverlap(`${a.local}/${a.prefixlen}`, n.subnet)) {
            clashes.push(`address ${a.local}/${a.prefixlen} on ${l.ifname}`);
          }
        } catch { /* ignore */ }
      }
    }
    const id = `subnet.${n.name}`;
    if (clashes.length === 0) {
      return item(id, "host", "ok", `${n.subnet} (${n.name}) overlaps nothing on this box`);
    }
    return item(
      id,
      "host",
      "failure",
      `${n.subnet} (${n.name}) overlaps ${[...new Set(clashes)].join(", ")}`,
      `choose another subnet for network ${n.name} in the config, or remove the conflicting ` +
        `route/address if it is stale (ip route del …)`,
    );
  });
}

/** One item per network: no VXLAN device we do not own already uses its VNI. */
export function vniItems(config: Config, self: Peer, links: IpDetailedLink[]): CheckItem[] {
  return myNetworks(config, self).map((n) => {
    const id = `vni.${n.name}`;
    if (config.datapath === "sleeve") {
      return item(id, "host", "ok", `VNI ${n.vni}: no VXLAN device needed (datapath: sleeve)`);
    }
    const foreign = links.filter((l) =>
      l.linkinfo?.info_kind === "vxlan" && l.linkinfo.info_data?.id === n.vni &&
      !isOwnedLink(l.ifname)
    );
    if (foreign.length === 0) return item(id, "host", "ok", `VNI ${n.vni} (${n.name}) is free`);
    return item(
      id,
      "host",
      "failure",
      `VNI ${n.vni} (${n.name}) is used by ${
        foreign.map((l) => l.ifname).join(", ")
      }, not ours: the kernel refuses a second VXLAN device with the same VNI and port`,
      `set another vni for network ${n.name} in the config, or delete the device ` +
        `(ip link del ${foreign[0].ifname}) if it is stale`,
    );
  });
}

/** What binding a port told us. */
export type PortProbe =
  | { kind: "free" }
  | { kind: "agent"; socket: string }
  | { kind: "own-vxlan"; devices: string[] }
  | { kind: "in-use" }
  | { kind: "error"; message: string };

/** The port items: `port.control` (TCP), `port.sleeve` (UDP), `port.vxlan` (UDP). */
export function portItem(
  which: "control" | "sleeve" | "vxlan",
  address: string,
  port: number,
  probe: PortProbe,
): CheckItem {
  const id = `port.${which}`;
  const proto = which === "control" ? "TCP" : "UDP";
  const role = which === "control" ? "control" : which === "sleeve" ? "sleeve" : "VXLAN";
  const what = `${role} ${proto} ${formatHostPort(address, port)}`;
  const key = which === "vxlan" ? "vxlan_port" : "port";
  switch (probe.kind) {
    case "free":
      return item(id, "ports", "ok", `${what} is free`);
    case "agent":
      return item(id, "ports", "ok", `${what} is held by the running agent (${probe.socket})`);
    case "own-vxlan":
      return item(
        id,
        "ports",
        "ok",
        `${what} is held by weave-agent's own VXLAN devices (${probe.devices.join(", ")})`,
      );
    case "in-use":
      return item(
        id,
        "ports",
        "failure",
        `${what} is in use by another process`,
        `find it with: ss -${proto === "TCP" ? "lt" : "lu"}npH 'sport = :${port}' and stop it, ` +
          `or set ${key}: to a free port in the config (on every box)`,
      );
    case "error":
      return item(id, "ports", "failure", `${what} cannot be bound: ${probe.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// peers and datapaths

/** Result of a TCP connect to a peer's control port. */
export type ReachProbe =
  | { ok: true; ms: number }
  | { ok: false; reason: "refused" | "timeout" | "unreachable" | "error"; message: string };

/** A peer's control port answers TCP; if not, why and what to do. */
export function reachabilityItem(peer: Peer, self: Peer, r: ReachProbe, timeoutMs: number) {
  const id = `peer.${peer.name}`;
  const at = formatHostPort(peer.address, peer.port);
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
      `UDP ${peer.port} from ${self.address} (on ${peer.name}: nft list ruleset)`;
  return item(id, "peers", "warning", found, fix);
}

/** Kernel facts the datapath decision needs, from the probe (null: probe unavailable). */
export interface DatapathKernelFacts {
  vxlan: ProbeEntry;
  esp: ProbeEntry;
}

/** Extracts VXLAN and ESP-GCM from a probe result (`vxlan`, `espGcm` / `esp-gcm`). */
export function datapathKernelFacts(probe: unknown): DatapathKernelFacts | null {
  const entries = new Map(probeEntries(probe));
  const vxlan = entries.get("vxlan");
  const esp = entries.get("esp-gcm") ?? entries.get("esp");
  return vxlan && esp ? { vxlan, esp } : null;
}

/**
 * One item per other peer: the datapath the pair will get from this side's point of view, and
 * why. The remote side's capabilities are only known at run time, so a capable box says
 * "fast datapath if …".
 */
export function datapathItems(
  config: Config,
  self: Peer,
  kernel: DatapathKernelFacts | null,
): CheckItem[] {
  const encrypted = config.password !== null;
  const cap: FastdpCapability | null = kernel
    ? localFastdpCapability(config.datapath, encrypted, {
      vxlan: kernel.vxlan.ok,
      vxlanDetail: kernel.vxlan.detail,
      esp: kernel.esp.ok,
      espDetail: kernel.esp.detail,
    })
    : null;
  const mine = new Set(myNetworks(config, self).map((n) => n.name));
  return config.peers.filter((p) => p.name !== self.name).map((p) => {
    const id = `datapath.${p.name}`;
    const shared = config.networks.filter((n) =>
      mine.has(n.name) && n.members.some((m) => m.peer === p.name)
    ).map((n) => n.name);
    const nets = shared.length ? ` (${shared.join(", ")})` : " (no shared network)";
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
      const reason = encrypted && !kernel.esp.ok && kernel.vxlan.ok
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
