/**
 * Reads what the kernel has, with one process per kind of object: `ip -json -details link`,
 * `ip -json addr`, `bridge -json fdb`, `ip xfrm state` / `policy` (text: iproute2 has no JSON
 * for xfrm), `nft -j list tables` and our table.
 *
 * @module
 */

import type {
  DesiredWorkload,
  ObservedHost,
  ObservedLink,
  ObservedPolicy,
  ObservedSa,
  ObservedWorkload,
} from "./desired.ts";
import { isOwnedLink, workloadInnerName } from "../link_names.ts";
import { isNetnsPath, netnsFile, workloadProblem } from "./workload_names.ts";
import { BRIDGE_NF_KEYS } from "./plan_sysctl.ts";
import { ownsReqid } from "./xfrm_args.ts";
import { type ObservedNftTable, OWNED_TABLES, parseNftTable } from "./nft_table.ts";
import { runCommand as run } from "../command.ts";
import { readProcSysctls } from "./proc_sysctl.ts";

interface JsonLink {
  ifname: string;
  mtu: number;
  flags?: string[];
  master?: string;
  address?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; port?: number; local?: string; learning?: boolean };
    info_slave_data?: { isolated?: boolean };
  };
  addr_info?: { local: string; prefixlen: number }[];
}

/** Parses `ip xfrm state list` (text). */
export function parseXfrmStates(text: string): ObservedSa[] {
  const out: ObservedSa[] = [];
  for (const block of text.split(/^(?=src )/m)) {
    const head = /^src (\S+) dst (\S+)/.exec(block);
    // With `-s`, ip prints the SPI and reqid with their other base in parentheses.
    const spi = /proto esp spi 0x([0-9a-f]+)(?:\(\d+\))? reqid (\d+)/.exec(block);
    if (!head || !spi) continue;
    const key = /aead \S+ 0x([0-9a-f]+)/.exec(block);
    const hard = /expire add: soft \d+\(sec\), hard (\d+)\(sec\)/.exec(block);
    const added = /^\s*add (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)/m.exec(block);
    // ip prints the add time in local time, as this process reads it.
    const at = added ? new Date(`${added[1]}T${added[2]}`).getTime() / 1000 : NaN;
    out.push({
      src: head[1],
      dst: head[2],
      spi: parseInt(spi[1], 16),
      reqid: Number(spi[2]),
      keyHex: key?.[1] ?? null,
      addedAt: Number.isFinite(at) ? at : null,
      hardSeconds: hard ? Number(hard[1]) : null,
    });
  }
  return out;
}

/** Parses `ip xfrm policy list` (text). */
export function parseXfrmPolicies(text: string): ObservedPolicy[] {
  const out: ObservedPolicy[] = [];
  for (const block of text.split(/^(?=src )/m)) {
    const head = /^src (\S+?)(?:\/\d+)? dst (\S+?)(?:\/\d+)?(?: |$)/m.exec(block);
    const dir = /dir (in|out|fwd)/.exec(block);
    const reqid = /reqid (\d+)/.exec(block);
    if (!head || !dir || !reqid) continue;
    const dport = /dport (\d+)/.exec(block);
    out.push({
      src: head[1],
      dst: head[2],
      dir: dir[1] as "in" | "out" | "fwd",
      dport: dport ? Number(dport[1]) : null,
      reqid: Number(reqid[1]),
    });
  }
  return out;
}

/** Runs `ip ARGS` inside a workload's namespace (a name under /run/netns, or a path). */
function ipInside(netns: string, args: string[], opts: { netns?: string }) {
  return isNetnsPath(netns)
    ? run("nsenter", [`--net=${netns}`, "ip", ...args], opts)
    : run("ip", ["-n", netns, ...args], opts);
}

/** One workload's namespace: its end of the veth and its default route. */
export async function observeWorkload(
  w: DesiredWorkload,
  opts: { netns?: string } = {},
): Promise<ObservedWorkload> {
  const missing = (error: string): ObservedWorkload => ({
    netnsFound: false,
    error,
    inner: null,
    defaultRoute: null,
  });
  const problem = workloadProblem(w);
  if (problem) return missing(problem);
  try {
    await Deno.stat(netnsFile(w.netns));
  } catch {
    return missing(`namespace ${w.netns} does not exist`);
  }
  const dev = workloadInnerName(w.network);
  const [links, routes] = await Promise.all([
    ipInside(w.netns, ["-json", "address", "show"], opts),
    ipInside(w.netns, ["-json", "route", "show", "default"], opts),
  ]);
  if (!links.ok) return missing(`cannot enter namespace ${w.netns}: ${links.stderr.trim()}`);
  const l = (JSON.parse(links.stdout || "[]") as JsonLink[]).find((x) => x.ifname === dev);
  const r = (JSON.parse(routes.stdout || "[]") as { gateway?: string; dev?: string }[])[0];
  return {
    netnsFound: true,
    inner: l
      ? {
        up: (l.flags ?? []).includes("UP"),
        mtu: l.mtu,
        addresses: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
      }
      : null,
    defaultRoute: r?.gateway && r.dev ? { via: r.gateway, dev: r.dev } : null,
  };
}

/** Observes the host (or `netns`), and inside each of `workloads`' namespaces. */
export async function observeHost(
  opts: { netns?: string; workloads?: DesiredWorkload[] } = {},
): Promise<ObservedHost> {
  const { workloads: wanted = [], ...runOpts } = opts;
  const seen = await Promise.all(wanted.map((w) => observeWorkload(w, runOpts)));
  const host = await observeBox(runOpts);
  return wanted.length
    ? { ...host, workloads: Object.fromEntries(wanted.map((w, i) => [w.name, seen[i]])) }
    : host;
}

/**
 * Our links (`wv*`) with their details and addresses, from one `ip -json -details address show`
 * (it carries each link's kind, master, flags and addresses together). Also what the agent reads
 * after a reconcile for its bridges' MACs, instead of the whole box.
 */
export async function observeLinks(opts: { netns?: string } = {}): Promise<ObservedLink[]> {
  const r = await run("ip", ["-json", "-details", "address", "show"], opts);
  if (!r.ok) throw new Error(`ip address show failed: ${r.stderr.trim()}`);
  const observed: ObservedLink[] = [];
  for (const l of JSON.parse(r.stdout || "[]") as JsonLink[]) {
    if (!isOwnedLink(l.ifname)) continue;
    const kind = l.linkinfo?.info_kind ?? "";
    const d = l.linkinfo?.info_data;
    observed.push({
      name: l.ifname,
      kind,
      mtu: l.mtu,
      up: (l.flags ?? []).includes("UP"),
      master: l.master ?? null,
      address: l.address ?? null,
      isolated: l.linkinfo?.info_slave_data?.isolated ?? null,
      vxlan: kind === "vxlan" && d
        ? { id: d.id ?? 0, port: d.port ?? 0, local: d.local ?? null, learning: d.learning ?? true }
        : null,
      addresses: (l.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`),
    });
  }
  return observed;
}

async function observeBox(opts: { netns?: string }): Promise<ObservedHost> {
  const [observed, states, policies, tables] = await Promise.all([
    observeLinks(opts),
    run("ip", ["-s", "xfrm", "state", "list"], opts),
    run("ip", ["xfrm", "policy", "list"], opts),
    run("nft", ["list", "tables"], opts),
  ]);
  const vxlans = observed.filter((l) => l.kind === "vxlan").map((l) => l.name);
  const fdb: Record<string, string[]> = {};
  await Promise.all(vxlans.map(async (dev) => {
    const r = await run("bridge", ["-json", "fdb", "show", "dev", dev], opts);
    fdb[dev] = (JSON.parse(r.stdout || "[]") as {
      mac: string;
      dst?: string;
      flags?: string[];
      state?: string;
    }[])
      .filter((e) => e.dst && !(e.flags ?? []).includes("master"))
      .map((e) => `${e.mac} ${e.dst}`);
  }));
  const nft: Record<string, ObservedNftTable> = {};
  await Promise.all(
    OWNED_TABLES.filter((t) => new RegExp(`^table inet ${t}$`, "m").test(tables.stdout)).map(
      async (t) => {
        const r = await run("nft", ["list", "table", "inet", t], opts);
        if (r.ok) nft[t] = parseNftTable(r.stdout);
      },
    ),
  );
  const sysctls = await observeSysctls(observed.map((l) => l.name), opts);
  return {
    observedAt: Math.floor(Date.now() / 1000),
    sysctls,
    links: observed,
    fdb,
    sas: parseXfrmStates(states.stdout).filter((s) => ownsReqid(s.reqid)),
    policies: parseXfrmPolicies(policies.stdout).filter((p) => ownsReqid(p.reqid)),
    nft,
  };
}

/** The switches plan_sysctl.ts manages: forwarding of our bridges, bridge netfilter. */
async function observeSysctls(
  links: string[],
  opts: { netns?: string },
): Promise<Record<string, string>> {
  const keys = [
    ...links.filter((l) => l.startsWith("wvb-")).map((l) => `net.ipv4.conf.${l}.forwarding`),
    ...BRIDGE_NF_KEYS,
  ];
  if (!opts.netns) return await readProcSysctls(keys);
  // Unknown keys (no br_netfilter) fail alone: sysctl still prints the others.
  const r = await run("sysctl", keys, opts);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(\S+) = (\S+)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}
