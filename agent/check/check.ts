/**
 * `weave-agent check`: a preflight of this box against the config. It reads, binds-and-closes
 * and connects, but changes nothing, and finishes within a few seconds even when peers are
 * unreachable (everything runs in parallel under timeouts).
 *
 * ```ts
 * const report = await runCheck({ configPath: "/etc/weave/weave.yaml", name: "edge-1" });
 * console.log(renderCheck(report, { color: Deno.stdout.isTerminal() }));
 * Deno.exit(checkExitCode(report));
 * ```
 *
 * `--json` prints the `CheckReport` object as is. The item ids are listed in `items.ts`.
 *
 * @module
 */

import {
  type Config,
  type Diagnostic,
  findSelf,
  formatDiagnostic,
  loadConfig,
  type LoadResult,
  type Peer,
  type PeerEndpoint,
  readPasswordSource,
  selfName,
  systemPasswordAccess,
} from "../../config/mod.ts";
import { datapathCaps, type KernelCaps, probeKernel } from "../../datapath/kernel_probe.ts";
import { sleeveCapabilities, sleeveRealtimeFromEnv } from "../../datapath/sleeve/mod.ts";
import { isOwnedLink } from "../../datapath/link_names.ts";
import {
  type CheckItem,
  type CheckStatus,
  datapathItems,
  dialablePeersItem,
  dialOutItem,
  identityItem,
  type IpAddrLink,
  type IpDetailedLink,
  type IpRoute,
  kernelItems,
  linkWithAddress,
  natFleetItem,
  parseCapEff,
  parseRtprio,
  passwordItems,
  type PasswordObservation,
  portItem,
  type PortProbe,
  privilegesItem,
  reachabilityItem,
  realtimeItem,
  type SleeveCryptoCaps,
  sleeveCryptoItem,
  subnetItems,
  toolItem,
  underlayAddressItem,
  underlayMtuItem,
  vniItems,
} from "./items.ts";
import {
  commandOutput,
  probeTcp,
  readAddresses,
  readProcLimits,
  readProcStatus,
  readRoutes,
  readVxlanLinks,
  tryBind,
  unixSocketAlive,
  withTimeout,
} from "./host_facts.ts";
import { DEFAULT_RUN_DIR, runPaths } from "../ops/run_paths.ts";
import { type NeighbourLimits, neighbourNeeds, neighbourTableItem } from "./items_neighbours.ts";

export type { CheckItem, CheckStatus } from "./items.ts";

/** Counts by status, and what was checked. */
export interface CheckSummary {
  ok: number;
  warning: number;
  failure: number;
  /** The peer name checked (from --name or the hostname). */
  name: string;
  configPath: string;
  durationMs: number;
}

/** The whole report; `weave-agent check --json` prints exactly this. */
export interface CheckReport {
  items: CheckItem[];
  summary: CheckSummary;
}

/** Options of `runCheck`. */
export interface CheckOptions {
  configPath: string;
  /** This box's peer name; default the hostname. */
  name?: string;
  /** Where a running agent's control socket would be; default /run/weave-agent. */
  runDir?: string;
  /** Upper bound for each slow probe (kernel probe, tools); default 20000 ms: a loaded box
   * probes slowly, and an answer late is better than a false failure. Peers get ≤ 2 s. */
  timeoutMs?: number;
}

/** What the check asks other modules; replaceable to test the engine on its own. */
export interface CheckDeps {
  probeKernel: () => Promise<KernelCaps>;
  sleeveCapabilities: () => Promise<SleeveCryptoCaps> | SleeveCryptoCaps;
}

const DEFAULT_DEPS: CheckDeps = { probeKernel, sleeveCapabilities };

/** `timeoutMs` when not given. */
export const DEFAULT_CHECK_TIMEOUT_MS = 20_000;
/** Upper bound of one peer's TCP connect. */
const PEER_TIMEOUT_MS = 2000;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The password exactly as the agent would read it (`readPasswordSource`), plus its mode. */
function observePassword(config: Config): PasswordObservation {
  const src = config.password;
  if (!src) return { reading: { ok: false, problem: "unset" }, mode: null };
  let error: string | undefined;
  const system = systemPasswordAccess();
  const reading = readPasswordSource(src, {
    env: system.env,
    readFile: (p) => {
      try {
        return Deno.readFileSync(p);
      } catch (e) {
        error = message(e);
        return null;
      }
    },
  });
  const mode = src.kind === "file" && reading.ok ? system.statMode(src.path) : null;
  return error === undefined ? { reading, mode } : { reading, error, mode };
}

async function probePorts(
  config: Config,
  self: Peer,
  addressPresent: boolean,
  runDir: string,
  vxlanLinks: IpDetailedLink[],
): Promise<CheckItem[]> {
  const wildcard = self.family === 4 ? "0.0.0.0" : "::";
  const bindAddr = addressPresent ? self.address : wildcard;
  const socket = runPaths(runDir, self.name).socket;
  let agentAlive: boolean | null = null;
  const agent = async () => agentAlive ??= await unixSocketAlive(socket);
  const explain = async (p: PortProbe): Promise<PortProbe> =>
    p.kind === "in-use" && await agent() ? { kind: "agent", socket } : p;

  const items = [
    portItem(
      "control",
      bindAddr,
      self.port,
      await explain(await tryBind("tcp", bindAddr, self.port)),
    ),
    portItem(
      "sleeve",
      bindAddr,
      self.port,
      await explain(await tryBind("udp", bindAddr, self.port)),
    ),
  ];
  if (config.datapath === "sleeve") {
    items.push({
      id: "port.vxlan",
      group: "ports",
      status: "ok",
      found: `VXLAN UDP ${config.vxlanPort} not used (datapath: sleeve)`,
    });
    return items;
  }
  // The kernel's VXLAN socket is bound to the wildcard address: test exactly that.
  let vxlan = await tryBind("udp", wildcard, config.vxlanPort);
  if (vxlan.kind === "in-use") {
    const own = vxlanLinks.filter((l) =>
      isOwnedLink(l.ifname) && l.linkinfo?.info_data?.port === config.vxlanPort
    ).map((l) => l.ifname);
    vxlan = own.length ? { kind: "own-vxlan", devices: own } : await explain(vxlan);
  }
  items.push(portItem("vxlan", wildcard, config.vxlanPort, vxlan));
  return items;
}

/** What the box tells regardless of the config, all started at once. */
interface BoxObservations {
  procStatus: Promise<string | null>;
  procLimits: Promise<string | null>;
  tools: Promise<[string | null, string | null, string | null]>;
  /** The probe, or why it failed. */
  probe: Promise<KernelCaps | string>;
  crypto: Promise<SleeveCryptoCaps | string>;
  addrs: Promise<IpAddrLink[]>;
  routes: Promise<IpRoute[]>;
  vxlanLinks: Promise<IpDetailedLink[]>;
}

function observeBox(deps: CheckDeps, timeoutMs: number): BoxObservations {
  return {
    procStatus: readProcStatus(),
    procLimits: readProcLimits(),
    tools: Promise.all([
      commandOutput(["ip", "-V"], timeoutMs),
      commandOutput(["bridge", "-V"], timeoutMs),
      commandOutput(["nft", "--version"], timeoutMs),
    ]),
    probe: withTimeout(Promise.resolve().then(deps.probeKernel), timeoutMs, "kernel probe")
      .catch((e) => `kernel probe failed: ${message(e)}`),
    crypto: withTimeout(
      Promise.resolve().then(deps.sleeveCapabilities),
      timeoutMs,
      "sleeve capabilities",
    ).catch((e) => message(e)),
    addrs: readAddresses(),
    routes: readRoutes(),
    vxlanLinks: readVxlanLinks(),
  };
}

/** privileges, tools, kernel and crypto: what this box can do. */
async function boxItems(box: BoxObservations, config: Config | null): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const caps = await box.procStatus;
  const capEff = caps === null ? null : parseCapEff(caps);
  items.push(privilegesItem(Deno.uid(), capEff));
  const limits = await box.procLimits;
  let off = false;
  try {
    off = !sleeveRealtimeFromEnv();
  } catch {
    // A bad value is the agent's start-up error; check reports the rest.
  }
  items.push(realtimeItem(capEff, limits === null ? null : parseRtprio(limits), off));
  const [ipV, bridgeV, nftV] = await box.tools;
  items.push(toolItem("ip", ipV), toolItem("bridge", bridgeV), toolItem("nft", nftV));
  const probe = await box.probe;
  if (typeof probe === "string") {
    items.push({
      id: "kernel.probe",
      group: "kernel",
      status: "failure",
      found: probe,
      fix: "run as root; see the error above",
    });
  } else {
    items.push(...kernelItems(probe, {
      datapath: config?.datapath ?? null,
      encrypted: config ? config.password !== null : null,
    }));
  }
  items.push(sleeveCryptoItem(await box.crypto));
  return items;
}

/** `config.valid` and `config.warnings` (password warnings are the password items' job). */
function configItems(result: LoadResult, configPath: string): CheckItem[] {
  if (!result.ok) {
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    return [{
      id: "config.valid",
      group: "config",
      status: "failure",
      found: `${configPath} has ${errors.length} error(s):\n` +
        errors.map((d) => formatDiagnostic(d)).join("\n"),
      fix: "fix the errors above (weave-agent validate shows them too)",
    }];
  }
  const cfg = result.config;
  const items: CheckItem[] = [{
    id: "config.valid",
    group: "config",
    status: "ok",
    found: `${cfg.path}: ${cfg.peers.length} peers, ${cfg.networks.length} network(s), ` +
      `datapath ${cfg.datapath}`,
  }];
  const nat = natFleetItem(cfg);
  if (nat) items.push(nat);
  const passwordFile = cfg.password?.kind === "file" ? cfg.password.path : null;
  const otherWarnings = result.diagnostics.filter((d) =>
    d.severity === "warning" && d.file !== passwordFile && !/password/i.test(d.message)
  );
  if (otherWarnings.length > 0) {
    items.push({
      id: "config.warnings",
      group: "config",
      status: "warning",
      found: otherWarnings.map((d) => formatDiagnostic(d)).join("\n"),
      fix: "see the hints above",
    });
  }
  return items;
}

/** Everything that depends on being peer `self`: underlay, password, host, ports, peers. */
async function selfItems(
  cfg: Config,
  self: Peer,
  box: BoxObservations,
  opts: { runDir: string; timeoutMs: number },
): Promise<CheckItem[]> {
  const links = await box.addrs;
  const addressPresent = linkWithAddress(links, self.address) !== undefined;
  const peerTimeout = Math.min(PEER_TIMEOUT_MS, opts.timeoutMs);
  const others = cfg.peers.filter((p) => p !== self);
  const [reach, password, ports] = await Promise.all([
    // A DNS name is resolved by the connect, as the agent does at every dial; a dial-out-only
    // peer is never dialled.
    Promise.all(
      others.map((p) => p.endpoint ? probeTcp(dialHost(p.endpoint), p.port, peerTimeout) : null),
    ),
    observePassword(cfg),
    box.vxlanLinks.then((v) => probePorts(cfg, self, addressPresent, opts.runDir, v)),
  ]);
  const probe = await box.probe;
  return [
    underlayAddressItem(self, links),
    underlayMtuItem(cfg, self, links),
    ...passwordItems(cfg, password),
    ...subnetItems(cfg, self, await box.routes, links),
    ...vniItems(cfg, self, await box.vxlanLinks),
    ...ports,
    ...dialable(cfg, self),
    ...others.map((p, i) => {
      const r = reach[i];
      return r ? reachabilityItem(p, self, r, peerTimeout) : dialOutItem(p, self);
    }),
    ...datapathItems(cfg, self, typeof probe === "string" ? null : datapathCaps(probe)),
    ...await neighbourItems(cfg, self),
  ];
}

/** `host.neighbours.*`: the kernel's neighbour tables have room for this box's peers. */
async function neighbourItems(cfg: Config, self: Peer): Promise<CheckItem[]> {
  const needs = neighbourNeeds(cfg, self);
  const items: CheckItem[] = [];
  for (const family of ["ipv4", "ipv6"] as const) {
    if (needs[family] === 0) continue;
    const limits = await readNeighbourLimits(family);
    if (limits) items.push(neighbourTableItem(family, needs[family], limits));
  }
  return items;
}

/** The family's `gc_thresh1..3`, or null when the kernel has none (no IPv6, say). */
async function readNeighbourLimits(family: "ipv4" | "ipv6"): Promise<NeighbourLimits | null> {
  const read = async (i: number) =>
    Number(
      (await Deno.readTextFile(`/proc/sys/net/${family}/neigh/default/gc_thresh${i}`)).trim(),
    );
  try {
    const [gcThresh1, gcThresh2, gcThresh3] = await Promise.all([read(1), read(2), read(3)]);
    return [gcThresh1, gcThresh2, gcThresh3].every(Number.isSafeInteger)
      ? { gcThresh1, gcThresh2, gcThresh3 }
      : null;
  } catch {
    return null;
  }
}

function dialable(cfg: Config, self: Peer): CheckItem[] {
  const it = dialablePeersItem(cfg, self);
  return it ? [it] : [];
}

function dialHost(e: PeerEndpoint): string {
  return e.kind === "ip" ? e.ip : e.host;
}

/** Runs every check; never throws for what it finds (only for programming errors). */
export async function runCheck(
  opts: CheckOptions,
  deps: CheckDeps = DEFAULT_DEPS,
): Promise<CheckReport> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const name = selfName(opts.name);
  const runDir = opts.runDir ?? DEFAULT_RUN_DIR;
  // Everything independent of the config starts at once.
  const box = observeBox(deps, timeoutMs);
  const result = await loadConfig(opts.configPath).catch((e): LoadResult => ({
    ok: false,
    diagnostics: [loadFailure(opts.configPath, e)],
  }));
  const config = result.ok ? result.config : null;
  const items = [...await boxItems(box, config), ...configItems(result, opts.configPath)];
  if (config) {
    const fromFlag = opts.name !== undefined && opts.name !== "";
    items.push(identityItem(config, name, fromFlag));
    const self = findSelf(config, name);
    if (self) items.push(...await selfItems(config, self, box, { runDir, timeoutMs }));
  }
  return finish(items, name, opts.configPath, started);
}

function loadFailure(configPath: string, e: unknown): Diagnostic {
  return {
    severity: "error",
    file: configPath,
    line: 1,
    column: 1,
    message: `cannot load: ${message(e)}`,
  };
}

function finish(
  items: CheckItem[],
  name: string,
  configPath: string,
  started: number,
): CheckReport {
  const count = (s: CheckStatus) => items.filter((i) => i.status === s).length;
  return {
    items,
    summary: {
      ok: count("ok"),
      warning: count("warning"),
      failure: count("failure"),
      name,
      configPath,
      durationMs: Math.round(performance.now() - started),
    },
  };
}

/** 0 all ok, 1 any failure, 3 warnings only. */
export function checkExitCode(report: CheckReport): 0 | 1 | 3 {
  if (report.summary.failure > 0) return 1;
  if (report.summary.warning > 0) return 3;
  return 0;
}

const COLORS: Record<CheckStatus, string> = {
  ok: "\x1b[32m",
  warning: "\x1b[33m",
  failure: "\x1b[31m",
};
const LABELS: Record<CheckStatus, string> = { ok: "ok", warning: "WARN", failure: "FAIL" };

/** A compact table: status, item id, what was found, and the fix under it. */
export function renderCheck(report: CheckReport, opts: { color: boolean }): string {
  const paint = (s: CheckStatus, text: string) => opts.color ? `${COLORS[s]}${text}\x1b[0m` : text;
  const dim = (text: string) => opts.color ? `\x1b[2m${text}\x1b[0m` : text;
  const idWidth = Math.min(24, Math.max(...report.items.map((i) => i.id.length), 4));
  const indent = " ".repeat(6 + idWidth + 2);
  const lines = [`weave-agent check: ${report.summary.name} (${report.summary.configPath})`];
  for (const it of report.items) {
    const [first, ...more] = it.found.split("\n");
    lines.push(
      `${paint(it.status, LABELS[it.status].padEnd(4))}  ${it.id.padEnd(idWidth)}  ${first}`,
    );
    for (const m of more) lines.push(`${indent}${m}`);
    if (it.fix && it.status !== "ok") lines.push(`${indent}${dim("fix:")} ${it.fix}`);
  }
  const { ok, warning, failure, durationMs } = report.summary;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  const worst: CheckStatus = failure ? "failure" : warning ? "warning" : "ok";
  lines.push(
    paint(worst, `${ok} ok, ${plural(warning, "warning")}, ${plural(failure, "failure")}`) +
      ` (${durationMs} ms)`,
  );
  return lines.join("\n");
}
