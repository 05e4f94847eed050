/**
 * `weave.yaml` version 1: from text to a validated {@link Config}, or to diagnostics that say
 * where (file:line:col from the YAML parser's node ranges), what, and how to fix it. All
 * problems are collected, not only the first.
 *
 * @module
 */

import { isMap, isScalar, LineCounter, parseDocument, type Scalar, type YAMLMap } from "yaml";
import { networkMtu } from "../datapath/mtu.ts";
import { didYouMean } from "./did_you_mean.ts";
import { assignVnis, deriveMemberAddress, MAX_VNI } from "./derive.ts";
import { Reporter } from "./diagnostics.ts";
import {
  addressBits,
  addressInSubnet,
  broadcastAddress,
  type Cidr,
  formatCidr,
  formatHostPort,
  formatIp,
  type IpAddress,
  isUnspecifiedOrMulticast,
  networkAddress,
  parseCidr,
  parseIp,
  sameAddress,
  splitHostPort,
  subnetsOverlap,
} from "./ip.ts";
import { checkNetworkName, checkPeerName, isValidEnvName } from "./names.ts";
import { checkPasswordSource, type PasswordAccess, systemPasswordAccess } from "./password.ts";
import type {
  Config,
  DatapathMode,
  LoadResult,
  Member,
  MetricsEndpoint,
  Network,
  PasswordSource,
  Peer,
} from "./types.ts";
import {
  describeValue,
  type Entry,
  YamlReader,
  type YamlReader as Reader,
  type YNode,
} from "./yaml_reader.ts";

/** Defaults of weave.yaml version 1. */
export const DEFAULT_PORT = 6783;
export const DEFAULT_UNDERLAY_MTU = 1500;
export const MIN_UNDERLAY_MTU = 576;
export const MIN_UNDERLAY_MTU_IPV6 = 1280;
export const MAX_UNDERLAY_MTU = 9216;
/** IPv6 links (the overlay ones too) must carry 1280-byte packets (RFC 8200). */
export const MIN_IPV6_LINK_MTU = 1280;

const TOP_KEYS = [
  "version",
  "password",
  "port",
  "vxlan_port",
  "datapath",
  "underlay_mtu",
  "metrics",
  "peers",
  "networks",
] as const;
const PASSWORD_KEYS = ["file", "env"] as const;
const PEER_KEYS = ["name", "address"] as const;
const NETWORK_KEYS = ["name", "subnet", "vni", "members"] as const;
const DATAPATHS: readonly DatapathMode[] = ["auto", "fastdp", "sleeve"];

/** Options of {@link parseConfig}: how to reach password files and the environment. */
export interface ParseOptions {
  /** File content, or null when it cannot be read. Default: `Deno.readTextFileSync`. */
  readTextFile?: (path: string) => string | null;
  /** Permission bits, or null when unknown. Default: `Deno.statSync(p).mode`. */
  statMode?: (path: string) => number | null;
  /** Environment for `password: {env: ...}`. Default: the process environment. */
  env?: Record<string, string | undefined>;
}

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces; YAML does not allow tabs for indentation",
  BAD_INDENT: "check the indentation (spaces only) and that every [ or { is closed",
  MISSING_CHAR: "close the bracket or quote that was opened",
  MULTIPLE_DOCS: "keep a single document: remove the `---` separator",
  BLOCK_AS_IMPLICIT_KEY: "put a space after the colon of each key, and check the indentation",
  MULTILINE_IMPLICIT_KEY: "put a space after the colon of each key, and check the indentation",
  UNEXPECTED_TOKEN: "check the indentation and the `- ` of list items near here",
};

interface RawPeer {
  nameNode: YNode | null;
  name?: string;
  addressNode: YNode | null;
  address?: IpAddress;
  port?: number;
  itemNode: YNode | null;
}

interface RawMember {
  peer: string;
  keyNode: Scalar;
  valueNode: YNode | null;
  /** Null: derive it. Undefined: invalid (already reported). */
  address: IpAddress | null | undefined;
}

interface RawNetwork {
  itemNode: YNode | null;
  nameNode: YNode | null;
  name?: string;
  subnetNode: YNode | null;
  subnet?: Cidr;
  vniNode: YNode | null;
  /** Null: derive it. Undefined: invalid. */
  vni?: number | null;
  /** Null: every peer. Undefined: invalid. */
  members?: RawMember[] | null;
}

/**
 * Parses and validates weave.yaml text. `path` is used as given in diagnostics and resolved
 * against the working directory for {@link Config.path}; a relative password `file:` is resolved
 * against the config file's folder. Password files and environment variables are only reached
 * through `opts` (defaults: Deno's synchronous APIs).
 */
export function parseConfig(text: string, path: string, opts: ParseOptions = {}): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    // Duplicates are reported by the reader, naming the key and where it first appeared.
    uniqueKeys: false,
  });
  const report = new Reporter(path, lines);
  for (const e of doc.errors) {
    report.errorAtOffset(
      e.pos[0],
      `invalid YAML${near(text, e.pos[0])}: ${e.message}`,
      SYNTAX_HINTS[e.code] ?? "fix the YAML syntax near here",
    );
  }
  for (const w of doc.warnings) {
    report.report(
      "warning",
      { range: [w.pos[0], w.pos[1], w.pos[1]] },
      `YAML: ${w.message}`,
      "check the YAML near here",
    );
  }
  // A broken tree would only produce noise after a syntax error.
  if (doc.errors.length > 0) return { ok: false, diagnostics: report.diagnostics };

  const absolutePath = absolute(path, Deno.cwd());
  const system = opts.readTextFile && opts.statMode && opts.env
    ? undefined
    : systemPasswordAccess();
  const access: PasswordAccess = {
    readTextFile: opts.readTextFile ?? system!.readTextFile,
    statMode: opts.statMode ?? system!.statMode,
    env: opts.env ?? system!.env,
  };
  const config = new ConfigParser(new YamlReader(doc, report), absolutePath, access).parse();
  // Found in the order of checks; shown in the order of the file.
  const diagnostics = report.diagnostics.toSorted((a, b) => a.line - b.line || a.column - b.column);
  if (!config || report.errorCount > 0) return { ok: false, diagnostics };
  return { ok: true, config, diagnostics };
}

/**
 * `path` made absolute against `base` and normalised (POSIX; the agent runs on Linux). Not
 * node:path: importing it would pull Node's global types into everything that imports config/.
 */
function absolute(path: string, base: string): string {
  const parts: string[] = [];
  for (const seg of (path.startsWith("/") ? path : `${base}/${path}`).split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return "/" + parts.join("/");
}

function folderOf(absolutePath: string): string {
  return absolutePath.slice(0, absolutePath.lastIndexOf("/")) || "/";
}

/** ` near "<the offending line>"`, shortened, for syntax errors. */
function near(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  let end = text.indexOf("\n", offset);
  if (end < 0) end = text.length;
  let line = text.slice(start, end).trim();
  if (line === "") return "";
  if (line.length > 40) line = line.slice(0, 37) + "...";
  return ` near ${JSON.stringify(line)}`;
}

class ConfigParser {
  readonly #r: Reader;
  readonly #report: Reporter;
  constructor(reader: Reader, readonly path: string, readonly access: PasswordAccess) {
    this.#r = reader;
    this.#report = reader.report;
  }

  parse(): Config | undefined {
    const r = this.#r;
    const report = this.#report;
    const root = r.resolve(r.doc.contents);
    if (!root || (isScalar(root) && (root.value === null || root.value === ""))) {
      report.error(null, "the config is empty", `start with "version: 1", then peers and networks`);
      return undefined;
    }
    const top = r.map(
      root,
      "the config",
      "at the top level",
      TOP_KEYS,
      `"version: 1" on the first line, then peers: and networks:`,
    );
    if (!top) return undefined;

    this.#version(top, root);
    const password = this.#password(top, root);
    const port = this.#optionalInt(top, "port", 1, 65535, "port: 6783") ?? DEFAULT_PORT;
    const vxlanPort = this.#vxlanPort(top, port);
    const datapath = this.#datapath(top);
    const underlayMtu = this.#optionalInt(
      top,
      "underlay_mtu",
      MIN_UNDERLAY_MTU,
      MAX_UNDERLAY_MTU,
      "underlay_mtu: 1500",
    ) ?? DEFAULT_UNDERLAY_MTU;
    const metrics = this.#metrics(top);
    const rawPeers = this.#peers(top, root, port);
    const peers = this.#checkPeers(rawPeers, vxlanPort, top, underlayMtu);
    const rawNetworks = this.#networks(top, root);
    // Checked even when peers are broken, so their errors do not hide the networks' ones.
    const networks = this.#checkNetworks(rawNetworks, peers, {
      underlayMtu,
      datapath,
      encrypted: password !== null,
      underlayFamily: rawPeers?.some((p) => p.address?.family === 6) ? 6 : 4,
    });

    if (report.errorCount > 0 || !peers || !networks || password === undefined) return undefined;
    if (vxlanPort === undefined) return undefined;
    return {
      version: 1,
      path: this.path,
      password,
      port,
      vxlanPort,
      datapath,
      underlayMtu,
      metrics,
      peers,
      networks,
    };
  }

  #optionalInt(
    top: Map<string, Entry>,
    key: string,
    min: number,
    max: number,
    example: string,
  ): number | undefined {
    const e = top.get(key);
    return e ? this.#r.integer(e.value, key, min, max, example) : undefined;
  }

  #version(top: Map<string, Entry>, root: YNode): void {
    const e = top.get("version");
    if (!e) {
      this.#report.error(
        root,
        "version is missing",
        `add "version: 1" as the first line`,
      );
      return;
    }
    if (isScalar(e.value) && e.value.value === 1) return;
    this.#report.error(
      e.value,
      `version must be 1, got ${describeValue(e.value)}`,
      'this agent reads weave.yaml version 1; write "version: 1"',
    );
  }

  /** Null: no password. Undefined: invalid (reported). */
  #password(top: Map<string, Entry>, root: YNode): PasswordSource | null | undefined {
    const e = top.get("password");
    const literalWhy = "weave.yaml is meant to be kept in Git, where everyone who can read the " +
      "repository would learn the password";
    const literalHint = `keep it in a file only root can read and write ` +
      `"password: {file: secret.txt}", or write "password: {env: WEAVE_PASSWORD}"`;
    if (!e) {
      this.#report.warning(
        root,
        "no password: traffic between peers is not encrypted and peers are not authenticated",
        `add "password: {file: secret.txt}" (a file only root can read) to encrypt`,
      );
      return null;
    }
    const node = e.value;
    if (isScalar(node)) {
      if (node.value === null || node.value === "") {
        this.#report.error(
          node.value === null ? e.key : node,
          "password is empty",
          "give file: or env: under password:, or remove the password line to run " +
            "without encryption",
        );
      } else {
        // The value itself is never echoed: it is a secret, and diagnostics end up in logs.
        this.#report.error(node, `password is written into the config; ${literalWhy}`, literalHint);
      }
      return undefined;
    }
    if (isMap(node)) {
      const literal = node.items.find((p) => isScalar(p.key) && p.key.value === "value");
      if (literal) {
        this.#report.error(
          literal.key as Scalar,
          `password: value: puts the password into the config; ${literalWhy}`,
          literalHint,
        );
        return undefined;
      }
    }
    const m = this.#r.map(
      node,
      "password",
      "under password",
      PASSWORD_KEYS,
      `"password: {file: secret.txt}" or "password: {env: WEAVE_PASSWORD}"`,
    );
    if (!m) return undefined;
    const file = m.get("file");
    const env = m.get("env");
    if (file && env) {
      const second = this.#report.at(file.key).line <= this.#report.at(env.key).line ? env : file;
      this.#report.error(
        second.key,
        "password takes either file: or env:, not both",
        "keep the one the agent should use",
      );
      return undefined;
    }
    if (!file && !env) {
      if (m.unknownKeys.length > 0) return undefined;
      this.#report.error(
        node,
        "password needs file: or env:",
        `e.g. "password: {file: secret.txt}" or "password: {env: WEAVE_PASSWORD}"`,
      );
      return undefined;
    }
    let source: PasswordSource;
    let written: string;
    let at: YNode | null;
    if (file) {
      const f = this.#r.string(file.value, "password file", "file: secret.txt");
      if (f === undefined) return undefined;
      source = { kind: "file", path: absolute(f, folderOf(this.path)) };
      written = f;
      at = file.value;
    } else {
      const name = this.#r.string(env!.value, "password env", "env: WEAVE_PASSWORD");
      if (name === undefined) return undefined;
      if (!isValidEnvName(name)) {
        this.#report.error(
          env!.value,
          `"${name}" is not a valid environment variable name`,
          "use letters, digits and _, not starting with a digit, e.g. WEAVE_PASSWORD",
        );
        return undefined;
      }
      source = { kind: "env", name };
      written = name;
      at = env!.value;
    }
    let failed = false;
    for (const p of checkPasswordSource(source, written, this.access)) {
      this.#report.report(p.severity, at, p.message, p.hint);
      if (p.severity === "error") failed = true;
    }
    return failed ? undefined : source;
  }

  #vxlanPort(top: Map<string, Entry>, port: number): number | undefined {
    const e = top.get("vxlan_port");
    if (!e) {
      if (port === 65535) {
        this.#report.error(
          top.get("port")!.value,
          "port 65535 leaves no room for the default vxlan_port (port + 1)",
          "set vxlan_port: explicitly, or use a lower port",
        );
        return undefined;
      }
      return port + 1;
    }
    const v = this.#r.integer(e.value, "vxlan_port", 1, 65535, "vxlan_port: 6784");
    if (v === undefined) return undefined;
    if (v === port) {
      this.#report.error(
        e.value,
        `vxlan_port ${v} is the same as port`,
        "VXLAN needs its own UDP port: remove vxlan_port to use port + 1, or pick another",
      );
      return undefined;
    }
    return v;
  }

  #datapath(top: Map<string, Entry>): DatapathMode {
    const e = top.get("datapath");
    if (!e) return "auto";
    const v = isScalar(e.value) ? e.value.value : undefined;
    if (typeof v === "string" && (DATAPATHS as readonly string[]).includes(v)) {
      return v as DatapathMode;
    }
    const suggestion = typeof v === "string" ? didYouMean(v, DATAPATHS) : "";
    this.#report.error(
      e.value,
      `datapath must be one of ${DATAPATHS.join(", ")}, got ${describeValue(e.value)}${suggestion}`,
      "auto uses the kernel's VXLAN where both ends can and the sleeve otherwise",
    );
    return "auto";
  }

  #metrics(top: Map<string, Entry>): MetricsEndpoint | null {
    const e = top.get("metrics");
    if (!e) return null;
    const example = "metrics: 127.0.0.1:9100";
    const text = this.#r.string(e.value, "metrics", example);
    if (text === undefined) return null;
    const hp = splitHostPort(text);
    const bad = (why: string) => {
      this.#report.error(
        e.value,
        `metrics must be host:port, got "${text}": ${why}`,
        `e.g. "${example}" or "[::1]:9100"; remove the line to turn metrics off`,
      );
      return null;
    };
    if (!hp) return bad("the port must be a number from 1 to 65535");
    if (hp.port === undefined) return bad("the port is missing");
    const ip = parseIp(hp.host);
    if (hp.bracketed && ip?.family !== 6) return bad("only IPv6 addresses go in brackets");
    if (!ip && checkPeerName(hp.host) !== null) {
      return bad(`"${hp.host}" is neither an IP address nor a host name`);
    }
    return { host: ip ? formatIp(ip) : hp.host, port: hp.port };
  }

  #peers(top: Map<string, Entry>, root: YNode, port: number): RawPeer[] | undefined {
    const e = top.get("peers");
    const example = "peers: [{name: edge-1, address: 192.0.2.10}]";
    if (!e) {
      this.#report.error(root, "peers is missing", `list every box of the fleet, ${example}`);
      return undefined;
    }
    const items = this.#r.list(e.value, "peers", example);
    if (!items) return undefined;
    if (items.length === 0) {
      this.#report.error(e.value, "peers is empty", `list every box of the fleet, ${example}`);
      return undefined;
    }
    return items.map((item, i) => this.#peer(item, i, port));
  }

  #peer(item: YNode | null, i: number, port: number): RawPeer {
    const where = `peers[${i}]`;
    const raw: RawPeer = { nameNode: null, addressNode: null, itemNode: item };
    const m = this.#r.map(item, where, `in ${where}`, PEER_KEYS, "- name: edge-1");
    if (!m) return raw;
    const nameEntry = m.get("name");
    const addressEntry = m.get("address");
    if (!nameEntry) {
      if (m.unknownKeys.length === 0) {
        this.#report.error(item, `${where} has no name`, 'add e.g. "name: edge-1"');
      }
    } else {
      raw.nameNode = nameEntry.value;
      const name = this.#r.string(nameEntry.value, `${where}.name`, "name: edge-1");
      const problem = name === undefined ? null : checkPeerName(name);
      if (problem) this.#report.error(nameEntry.value, problem.message, problem.hint);
      else raw.name = name;
    }
    if (!addressEntry) {
      if (m.unknownKeys.length === 0) {
        this.#report.error(item, `${where} has no address`, 'add e.g. "address: 192.0.2.10"');
      }
      return raw;
    }
    raw.addressNode = addressEntry.value;
    const text = this.#r.string(
      addressEntry.value,
      `${where}.address`,
      `address: 192.0.2.10, or quoted with a port: address: "[2001:db8::1]:6783"`,
    );
    if (text === undefined) return raw;
    const hint = "give an IPv4 or IPv6 address of the underlay, optionally with :port " +
      "([IPv6]:port); host names are not resolved";
    const hp = splitHostPort(text);
    const ip = hp ? parseIp(hp.host) : null;
    if (!hp || !ip || (hp.bracketed && ip.family !== 6)) {
      this.#report.error(addressEntry.value, `"${text}" is not an IP address or ip:port`, hint);
      return raw;
    }
    if (isUnspecifiedOrMulticast(ip)) {
      this.#report.error(
        addressEntry.value,
        `${formatIp(ip)} cannot be a peer address: it is unspecified or multicast`,
        hint,
      );
      return raw;
    }
    raw.address = ip;
    raw.port = hp.port ?? port;
    return raw;
  }

  #checkPeers(
    raws: RawPeer[] | undefined,
    vxlanPort: number | undefined,
    top: Map<string, Entry>,
    underlayMtu: number,
  ): Peer[] | undefined {
    if (!raws) return undefined;
    const byName = new Map<string, RawPeer>();
    const byEndpoint = new Map<string, RawPeer>();
    for (const p of raws) {
      if (p.name !== undefined) {
        const first = byName.get(p.name);
        if (first) {
          this.#report.error(
            p.nameNode,
            `duplicate peer name "${p.name}" (first on line ${
              this.#report.at(first.nameNode).line
            })`,
            "every peer needs its own name",
          );
        } else {
          byName.set(p.name, p);
        }
      }
      if (p.address && p.port !== undefined) {
        const endpoint = formatHostPort(formatIp(p.address), p.port);
        const first = byEndpoint.get(endpoint);
        if (first) {
          this.#report.error(
            p.addressNode,
            `duplicate peer address ${endpoint}: "${first.name ?? "?"}" (line ` +
              `${this.#report.at(first.addressNode).line}) has it too`,
            "two peers on one box need different ports, e.g. 192.0.2.10:6790",
          );
        } else {
          byEndpoint.set(endpoint, p);
        }
        if (vxlanPort !== undefined && p.port === vxlanPort) {
          this.#report.error(
            p.addressNode,
            `port ${p.port} of peer "${p.name ?? "?"}" is also the vxlan_port`,
            "the control/sleeve port and VXLAN need different UDP ports",
          );
        }
      }
    }
    const v6 = raws.find((p) => p.address?.family === 6);
    if (v6 && underlayMtu < MIN_UNDERLAY_MTU_IPV6) {
      this.#report.error(
        top.get("underlay_mtu")?.value,
        `underlay_mtu ${underlayMtu} is below ${MIN_UNDERLAY_MTU_IPV6}, the minimum for IPv6, ` +
          `and peer "${v6.name ?? "?"}" has an IPv6 address`,
        `use underlay_mtu: ${MIN_UNDERLAY_MTU_IPV6} or more`,
      );
    }
    if (raws.some((p) => p.name === undefined || !p.address || p.port === undefined)) {
      return undefined;
    }
    return raws.map((p, index) => ({
      name: p.name!,
      address: formatIp(p.address!),
      family: p.address!.family,
      port: p.port!,
      index,
    }));
  }

  #networks(top: Map<string, Entry>, root: YNode): RawNetwork[] | undefined {
    const e = top.get("networks");
    const example = "networks: [{name: sensors, subnet: 10.32.1.0/24}]";
    if (!e) {
      this.#report.warning(
        root,
        "no networks: peers will connect but carry no traffic",
        `add e.g. ${example}`,
      );
      return [];
    }
    const items = this.#r.list(e.value, "networks", example);
    if (!items) return undefined;
    if (items.length === 0) {
      this.#report.warning(
        e.value,
        "networks is empty: peers will connect but carry no traffic",
        `add e.g. ${example}`,
      );
    }
    return items.map((item, i) => this.#network(item, i));
  }

  #network(item: YNode | null, i: number): RawNetwork {
    const where = `networks[${i}]`;
    const raw: RawNetwork = { itemNode: item, nameNode: null, subnetNode: null, vniNode: null };
    const m = this.#r.map(item, where, `in ${where}`, NETWORK_KEYS, "- name: sensors");
    if (!m) return raw;
    const nameEntry = m.get("name");
    if (!nameEntry) {
      if (m.unknownKeys.length === 0) {
        this.#report.error(item, `${where} has no name`, 'add e.g. "name: sensors"');
      }
    } else {
      raw.nameNode = nameEntry.value;
      const name = this.#r.string(nameEntry.value, `${where}.name`, "name: sensors");
      const problem = name === undefined ? null : checkNetworkName(name);
      if (problem) this.#report.error(nameEntry.value, problem.message, problem.hint);
      else raw.name = name;
    }
    const subnetEntry = m.get("subnet");
    if (!subnetEntry) {
      if (m.unknownKeys.length === 0) {
        this.#report.error(item, `${where} has no subnet`, 'add e.g. "subnet: 10.32.1.0/24"');
      }
    } else {
      raw.subnetNode = subnetEntry.value;
      raw.subnet = this.#subnet(subnetEntry.value, where);
    }
    const vniEntry = m.get("vni");
    if (vniEntry) {
      raw.vniNode = vniEntry.value;
      raw.vni = this.#r.integer(vniEntry.value, `${where}.vni`, 1, MAX_VNI, "vni: 101");
    } else {
      raw.vni = null;
    }
    const membersEntry = m.get("members");
    raw.members = membersEntry ? this.#members(membersEntry, where) : null;
    return raw;
  }

  #subnet(node: YNode | null, where: string): Cidr | undefined {
    const text = this.#r.string(node, `${where}.subnet`, "subnet: 10.32.1.0/24");
    if (text === undefined) return undefined;
    const c = parseCidr(text);
    if (!c) {
      this.#report.error(
        node,
        `"${text}" is not a subnet`,
        "write address/prefix-length, e.g. 10.32.1.0/24",
      );
      return undefined;
    }
    const canonical = formatCidr(c);
    if (networkAddress(c).value !== c.address.value) {
      this.#report.error(
        node,
        `subnet ${text} has host bits set; did you mean ${canonical}?`,
        `write the network address: ${canonical}`,
      );
      return undefined;
    }
    const maxPrefix = addressBits(c.address.family) - 2;
    if (c.prefixLength > maxPrefix) {
      this.#report.error(
        node,
        `subnet ${text} is too small to hold members`,
        `use a prefix of /${maxPrefix} or shorter, e.g. /24`,
      );
      return undefined;
    }
    return c;
  }

  #members(e: Entry, where: string): RawMember[] | undefined {
    if (isScalar(e.value) && e.value.value === null) {
      this.#report.error(
        e.key,
        `${where}.members is empty`,
        "list peer names under it, or remove members: to include every peer",
      );
      return undefined;
    }
    if (!isMap(e.value)) {
      this.#report.error(
        e.value,
        `${where}.members must be a map of peer name to address, got ${describeValue(e.value)}`,
        'e.g. "members: {edge-1: 10.32.1.1, edge-2: }" (an empty address is derived)',
      );
      return undefined;
    }
    const map = e.value as YAMLMap;
    if (map.items.length === 0) {
      this.#report.error(
        map,
        `${where}.members is empty`,
        "list peer names under it, or remove members: to include every peer",
      );
      return undefined;
    }
    const members: RawMember[] = [];
    const seen = new Map<string, Scalar>();
    let ok = true;
    for (const pair of map.items) {
      const key = this.#r.resolve(pair.key);
      if (!isScalar(key) || typeof key.value !== "string") {
        this.#report.error(
          key ?? map,
          `members of ${where} must be peer names, got ${describeValue(key)}`,
          'quote names that look like numbers, e.g. "1": 10.32.1.1',
        );
        ok = false;
        continue;
      }
      const first = seen.get(key.value);
      if (first) {
        this.#report.error(
          key,
          `peer "${key.value}" is listed twice in ${where}.members (first on line ` +
            `${this.#report.at(first).line})`,
          "keep one of them",
        );
        ok = false;
        continue;
      }
      seen.set(key.value, key);
      const valueNode = this.#r.resolve(pair.value);
      let address: IpAddress | null | undefined = null;
      if (valueNode && !(isScalar(valueNode) && valueNode.value === null)) {
        const text = this.#r.string(
          valueNode,
          `address of "${key.value}" in ${where}`,
          `${key.value}: 10.32.1.1`,
        );
        if (text !== undefined) {
          address = parseIp(text);
          if (!address) {
            this.#report.error(
              valueNode,
              `"${text}" is not an IP address`,
              text.includes("/")
                ? "write the address alone; the prefix length comes from the subnet"
                : "write an address of the network's subnet, or leave it empty to derive one",
            );
            address = undefined;
          }
        } else {
          address = undefined;
        }
      }
      if (address === undefined) ok = false;
      members.push({ peer: key.value, keyNode: key, valueNode, address });
    }
    return ok ? members : undefined;
  }

  #checkNetworks(
    raws: RawNetwork[] | undefined,
    peers: Peer[] | undefined,
    mtu: {
      underlayMtu: number;
      datapath: DatapathMode;
      encrypted: boolean;
      underlayFamily: 4 | 6;
    },
  ): Network[] | undefined {
    if (!raws) return undefined;
    const report = this.#report;
    const byName = new Map<string, RawNetwork>();
    const byVni = new Map<number, RawNetwork>();
    const withSubnet: RawNetwork[] = [];
    for (const n of raws) {
      if (n.name !== undefined) {
        const first = byName.get(n.name);
        if (first) {
          report.error(
            n.nameNode,
            `duplicate network name "${n.name}" (first on line ${report.at(first.nameNode).line})`,
            "every network needs its own name",
          );
        } else {
          byName.set(n.name, n);
        }
      }
      if (typeof n.vni === "number") {
        const first = byVni.get(n.vni);
        if (first) {
          report.error(
            n.vniNode,
            `duplicate vni ${n.vni}: network "${first.name ?? "?"}" (line ` +
              `${report.at(first.vniNode).line}) has it too`,
            "give each network its own vni, or remove vni: to derive one",
          );
        } else {
          byVni.set(n.vni, n);
        }
      }
      if (n.subnet) {
        const other = withSubnet.find((o) => subnetsOverlap(o.subnet!, n.subnet!));
        if (other) {
          report.error(
            n.subnetNode,
            `subnet ${formatCidr(n.subnet)} overlaps ${formatCidr(other.subnet!)} of network ` +
              `"${other.name ?? "?"}" (line ${report.at(other.subnetNode).line})`,
            "give each network a subnet of its own, e.g. 10.32.1.0/24 and 10.32.2.0/24",
          );
        }
        withSubnet.push(n);
        if (n.subnet.address.family === 6) {
          const overlay = networkMtu({
            underlayMtu: mtu.underlayMtu,
            family: mtu.underlayFamily,
            encrypted: mtu.encrypted,
            datapath: mtu.datapath,
          });
          if (overlay < MIN_IPV6_LINK_MTU) {
            report.error(
              n.subnetNode,
              `IPv6 subnet ${formatCidr(n.subnet)} needs an MTU of at least ` +
                `${MIN_IPV6_LINK_MTU}, but underlay_mtu ${mtu.underlayMtu} leaves ${overlay}`,
              `raise underlay_mtu to ${mtu.underlayMtu + MIN_IPV6_LINK_MTU - overlay} or more`,
            );
          }
        }
      }
    }
    // Members can only be resolved against a valid peers list.
    if (!peers) return undefined;
    const peerNames = peers.map((p) => p.name);
    const networks: Network[] = [];
    for (const n of raws) {
      if (n.name === undefined || !n.subnet || n.vni === undefined || n.members === undefined) {
        continue;
      }
      const members = this.#resolveMembers(n, n.name, n.subnet, peers, peerNames);
      if (!members) continue;
      networks.push({
        name: n.name,
        subnet: formatCidr(n.subnet),
        family: n.subnet.address.family,
        prefixLength: n.subnet.prefixLength,
        vni: n.vni ?? 0,
        vniDerived: n.vni === null,
        members,
      });
    }
    if (networks.length !== raws.length) return undefined;
    const vnis = assignVnis(
      networks.map((n) => ({ name: n.name, vni: n.vniDerived ? null : n.vni })),
    );
    networks.forEach((n, i) => (n.vni = vnis[i]));
    return networks;
  }

  #resolveMembers(
    n: RawNetwork,
    name: string,
    subnet: Cidr,
    peers: Peer[],
    peerNames: string[],
  ): Member[] | undefined {
    const report = this.#report;
    const cidr = formatCidr(subnet);
    const explicit = new Map<string, RawMember>();
    const wanted: { peer: Peer; raw?: RawMember }[] = [];
    let ok = true;
    if (n.members === null) {
      for (const peer of peers) wanted.push({ peer });
    } else {
      for (const m of n.members!) {
        const peer = peers.find((p) => p.name === m.peer);
        if (!peer) {
          report.error(
            m.keyNode,
            `unknown peer "${m.peer}" in members of network "${name}"` +
              didYouMean(m.peer, peerNames),
            `members must be names listed under peers: (${peerNames.join(", ")})`,
          );
          ok = false;
          continue;
        }
        wanted.push({ peer, raw: m });
      }
      wanted.sort((a, b) => a.peer.index - b.peer.index);
    }
    // Explicit addresses first: derived ones must not take an address written in the file.
    for (const { raw } of wanted) {
      if (!raw?.address) continue;
      const a = raw.address;
      const text = formatIp(a);
      if (!addressInSubnet(a, subnet)) {
        report.error(
          raw.valueNode,
          `address ${text} of "${raw.peer}" is outside subnet ${cidr} of network "${name}"`,
          `use an address inside ${cidr}, or leave it empty to derive one`,
        );
        ok = false;
        continue;
      }
      if (subnet.address.family === 4) {
        const special = sameAddress(a, networkAddress(subnet))
          ? "network"
          : sameAddress(a, broadcastAddress(subnet))
          ? "broadcast"
          : null;
        if (special) {
          report.error(
            raw.valueNode,
            `address ${text} of "${raw.peer}" is the ${special} address of ${cidr}`,
            `use a host address, e.g. ${formatIp(deriveFirstHost(subnet))}`,
          );
          ok = false;
          continue;
        }
      }
      const first = explicit.get(text);
      if (first) {
        report.error(
          raw.valueNode,
          `address ${text} is given to both "${first.peer}" and "${raw.peer}" in network "${name}"`,
          "every member needs its own address",
        );
        ok = false;
        continue;
      }
      explicit.set(text, raw);
    }
    const members: Member[] = [];
    for (const { peer, raw } of wanted) {
      if (raw?.address) {
        members.push({ peer: peer.name, address: formatIp(raw.address), derived: false });
        continue;
      }
      const at = raw?.keyNode ?? n.subnetNode;
      const hint = `give "${peer.name}" an explicit address under members: of network "${name}"`;
      const d = deriveMemberAddress(subnet, peer.index);
      if ("problem" in d) {
        report.error(
          at,
          d.problem === "outside"
            ? `derived address of "${peer.name}" (peer #${peer.index + 1}) in network "${name}" ` +
              `would fall outside ${cidr}`
            : `derived address of "${peer.name}" in network "${name}" would be ` +
              `${formatIp(d.address!)}, the broadcast address of ${cidr}`,
          `${hint}, or use a larger subnet`,
        );
        ok = false;
        continue;
      }
      const text = formatIp(d.address);
      const taken = explicit.get(text);
      if (taken) {
        report.error(
          at,
          `derived address ${text} of "${peer.name}" in network "${name}" is already given ` +
            `to "${taken.peer}" (line ${report.at(taken.valueNode).line})`,
          hint,
        );
        ok = false;
        continue;
      }
      members.push({ peer: peer.name, address: text, derived: true });
    }
    return ok ? members : undefined;
  }
}

function deriveFirstHost(subnet: Cidr): IpAddress {
  return { family: subnet.address.family, value: networkAddress(subnet).value + 1n };
}
