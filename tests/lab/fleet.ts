/**
 * A fleet of real agents in a lab: writes one weave.yaml for the lab's hosts, starts
 * `weave-agent up` in each namespace, and talks to them with the real CLI (`status --json`,
 * `down`). The end-to-end tests, the demo and the benchmark all build on it.
 *
 * @module
 */

import { type AgentHandle, agentRunArgs, Lab, type LabHost } from "./lab.ts";
import type { AgentStatus } from "../../agent/agent.ts";

const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();

/** A network of the fleet's weave.yaml. */
export interface FleetNetwork {
  name: string;
  subnet: string;
  /** Host names; default every host. */
  members?: string[];
}

/** Options of `Fleet.start`. */
export interface FleetOptions {
  hosts: number | string[];
  /** The password (written to a 0600 file), or null for none. */
  password?: string | null;
  /** Per-host password override, to start a box with the wrong one. */
  passwordFor?: Record<string, string>;
  datapath?: "auto" | "fastdp" | "sleeve";
  networks?: FleetNetwork[];
  /** Extra top-level YAML lines. */
  extra?: string[];
  /** Hosts the config lists as peers; default every host (others are outsiders on the underlay). */
  peers?: string[];
  /** Hosts not to start (their config entry still exists). */
  skip?: string[];
  logLevel?: string;
  /** Extra environment for one host's agent. */
  envFor?: Record<string, Record<string, string>>;
}

/** The CLI of this checkout, run inside a host's namespace. */
export async function cli(lab: Lab, host: LabHost, args: string[], timeoutMs = 30_000) {
  return lab.exec(host, [...await agentRunArgs(), `${REPO}/main.ts`, ...args], {
    timeoutMs,
    env: { WEAVE_RUN_DIR: lab.agentRunDir, NO_COLOR: "1" },
  });
}

/** Renders the fleet's weave.yaml. */
export function fleetYaml(
  lab: Lab,
  opts: FleetOptions,
  passwordFile: string | null,
): string {
  const networks = opts.networks ?? [{ name: "net1", subnet: "10.40.1.0/24" }];
  const lines = ["version: 1"];
  if (passwordFile) lines.push("password:", `  file: ${passwordFile}`);
  lines.push(`datapath: ${opts.datapath ?? "auto"}`, ...(opts.extra ?? []), "peers:");
  for (const h of lab.hosts.filter((h) => !opts.peers || opts.peers.includes(h.name))) {
    lines.push(`  - name: ${h.name}`, `    address: ${h.address}`);
  }
  lines.push("networks:");
  for (const n of networks) {
    lines.push(`  - name: ${n.name}`, `    subnet: ${n.subnet}`);
    if (n.members) {
      lines.push("    members:");
      for (const m of n.members) lines.push(`      ${m}:`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Running agents in a lab. */
export class Fleet {
  readonly agents = new Map<string, AgentHandle>();
  readonly configs = new Map<string, string>();

  private constructor(readonly lab: Lab, readonly opts: FleetOptions) {}

  /** Builds the lab, writes configs, starts the agents and waits until each says it is up. */
  static async start(opts: FleetOptions): Promise<Fleet> {
    const lab = await Lab.create({ hosts: opts.hosts });
    const fleet = new Fleet(lab, opts);
    try {
      for (const h of lab.hosts) await fleet.writeConfig(h);
      for (const h of lab.hosts) {
        if (!opts.skip?.includes(h.name)) await fleet.startAgent(h);
      }
      for (const [, a] of fleet.agents) await a.waitForLog(/agent up/, 30_000);
    } catch (e) {
      lab.markFailed();
      await lab.destroy();
      throw e;
    }
    return fleet;
  }

  /** Writes host's weave.yaml (each host has its own copy, as on a real fleet). */
  async writeConfig(h: LabHost, opts: FleetOptions = this.opts): Promise<string> {
    const password = opts.passwordFor?.[h.name] ?? opts.password ?? null;
    const pwFile = password === null
      ? null
      : await this.lab.writeFile(`secret-${h.name}.txt`, password + "\n", 0o600);
    const path = await this.lab.writeFile(
      `weave-${h.name}.yaml`,
      fleetYaml(this.lab, opts, pwFile),
    );
    this.configs.set(h.name, path);
    return path;
  }

  async startAgent(h: LabHost): Promise<AgentHandle> {
    const a = await this.lab.startAgent(h, [
      "-c",
      this.configs.get(h.name)!,
      "--name",
      h.name,
      "--log-level",
      this.opts.logLevel ?? "debug",
    ], this.opts.envFor?.[h.name]);
    this.agents.set(h.name, a);
    return a;
  }

  host(name: string): LabHost {
    return this.lab.host(name);
  }

  /** `weave-agent status --json` of one host, or null when no agent answers. */
  async status(name: string): Promise<AgentStatus | null> {
    const r = await cli(this.lab, this.host(name), ["status", "--json", "--name", name]);
    if (r.code !== 0) return null;
    try {
      return JSON.parse(r.stdout) as AgentStatus;
    } catch {
      return null;
    }
  }

  /** Waits until `pred` holds for the statuses of every running agent. */
  async waitForStatus(
    pred: (statuses: Map<string, AgentStatus>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Map<string, AgentStatus>> {
    const deadline = Date.now() + timeoutMs;
    let last = new Map<string, AgentStatus>();
    while (Date.now() < deadline) {
      last = new Map();
      for (const name of this.agents.keys()) {
        const s = await this.status(name);
        if (s) last.set(name, s);
      }
      if (last.size === this.agents.size && pred(last)) return last;
      await new Promise((r) => setTimeout(r, 300));
    }
    this.lab.markFailed();
    throw new Error(
      `fleet: condition not met within ${timeoutMs} ms; last statuses:\n` +
        [...last.values()].map((s) =>
          `${s.peer}: ` +
          s.peers.map((p) => `${p.name}=${p.state}/${p.datapath} (${p.reason})`).join(", ")
        ).join("\n") + `\nlogs in ${this.lab.runDir}`,
    );
  }

  /** Waits until every pair of running agents has settled on `datapath` (or any final one). */
  settled(datapath?: "fastdp" | "sleeve", timeoutMs = 30_000) {
    const running = new Set(this.agents.keys());
    return this.waitForStatus(
      (all) =>
        [...all.values()].every((s) =>
          s.peers.filter((p) => running.has(p.name)).every((p) =>
            p.state === "up" &&
            (datapath
              ? p.datapath === datapath
              : p.datapath === "fastdp" || p.datapath === "sleeve")
          )
        ),
      timeoutMs,
    );
  }

  /** This host's overlay address on `network`. */
  overlayAddress(status: AgentStatus, network: string): string {
    return status.networks.find((n) => n.name === network)!.address;
  }

  /** Stops every agent, runs `down` on every host, destroys the lab. */
  async destroy(): Promise<void> {
    try {
      for (const [name, a] of this.agents) {
        await a.stop("SIGTERM", 5000).catch(() => {});
        await cli(this.lab, this.host(name), ["down", "--name", name]).catch(() => {});
      }
    } finally {
      await this.lab.destroy();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

/** Random bytes of any length (getRandomValues stops at 64 KiB per call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** A payload whose every 64 bytes carry a marker: any clear-text leak shows in a capture. */
export function markedPayload(bytes: number): Uint8Array {
  const marker = new TextEncoder().encode("WEAVE-PLAINTEXT-MARKER-0123456789");
  const out = randomBytes(bytes);
  for (let off = 0; off + marker.length <= bytes; off += 64) out.set(marker, off);
  return out;
}

/** How often `needle` occurs in `haystack` (overlapping occurrences counted). */
export function countBytes(haystack: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    n++;
  }
  return n;
}

/** Sends `file` from `from` to `to`'s overlay address; returns [sent, received] "size sha". */
export async function transfer(
  fleet: Pick<Fleet, "lab">,
  from: string,
  to: string,
  dst: string,
  port: number,
  file: string,
): Promise<[string, string]> {
  const lab = fleet.lab;
  const recv = await lab.spawn(
    lab.host(to),
    [DENO, "run", "-A", `${REPO}/tests/tools/tcp_transfer.ts`, "listen", dst, String(port)],
    { logFile: `recv-${to}-${port}.log` },
  );
  await recv.waitForLog(/listening/, 10_000);
  const sent = await lab.exec(lab.host(from), [
    DENO,
    "run",
    "-A",
    `${REPO}/tests/tools/tcp_transfer.ts`,
    "send",
    dst,
    String(port),
    file,
  ], { timeoutMs: 60_000 });
  await Promise.race([recv.status, new Promise((r) => setTimeout(r, 20_000))]);
  await recv.stop();
  const got = (await recv.readLog()).split("\n").find((l) => /^\d+ [0-9a-f]{64}$/.test(l)) ?? "";
  return [sent.stdout.trim(), got];
}
