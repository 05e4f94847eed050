/**
 * Helpers for fleets of many agents (the fleet benchmark and the fleet lab test): the kernel's
 * neighbour tables raised for the lab, every agent started at once, session events read from
 * the agents' own log lines, and per-process CPU and memory from /proc.
 *
 * Why the neighbour tables: they are shared by every namespace of the box, with a default limit
 * of 1024 entries in all; a full mesh of N lab hosts needs about 2·N² (underlay and overlay), so
 * past ~22 hosts the kernel logs "neighbor table overflow" and connections time out for reasons
 * that have nothing to do with the agent.
 *
 * @module
 */

import { type AgentHandle, agentRunArgs, Lab, type LabHost } from "./lab.ts";

const NEIGH_KEYS = [1, 2, 3].flatMap((i) =>
  ["ipv4", "ipv6"].map((f) => `/proc/sys/net/${f}/neigh/default/gc_thresh${i}`)
);

/** Neighbour entries a lab of `hosts` hosts in one full mesh may need (underlay and overlay). */
export function neighbourEntriesFor(hosts: number, networks = 1): number {
  return hosts * hosts * (1 + networks) + 1024;
}

/**
 * Raises `gc_thresh1..3` (IPv4 and IPv6) so that `entries` fit without garbage collection
 * pressure; returns a function that restores the previous values. Values are only raised.
 */
export async function raiseNeighbourTables(entries: number): Promise<() => Promise<void>> {
  const old = new Map<string, string>();
  for (const k of NEIGH_KEYS) old.set(k, (await Deno.readTextFile(k)).trim());
  const want = (k: string) =>
    k.endsWith("1") ? entries : k.endsWith("2") ? entries * 2 : entries * 4;
  // thresh3 ≥ thresh2 ≥ thresh1 must hold at every step: raise from the top down.
  for (const k of [...NEIGH_KEYS].reverse()) {
    if (Number(old.get(k)) < want(k)) await Deno.writeTextFile(k, String(want(k)));
  }
  return async () => {
    for (const k of NEIGH_KEYS) await Deno.writeTextFile(k, old.get(k)!).catch(() => {});
  };
}

/**
 * Starts `up` on every host at the same moment; resolves once every process is spawned.
 * `denoFlags` go before the script (e.g. `--node-modules-dir=manual`, so that a hundred agents
 * started from one checkout do not queue for the lock on its node_modules folder, as compiled
 * binaries never do; or `--v8-flags=…`).
 */
export async function startAllAtOnce(
  lab: Lab,
  hosts: LabHost[],
  argsFor: (h: LabHost) => string[],
  denoFlags: string[] = [],
): Promise<{ startedAt: number; agents: Map<string, AgentHandle> }> {
  const run = await agentRunArgs();
  const startedAt = Date.now();
  const handles = await Promise.all(hosts.map((h) =>
    lab.spawn(h, [
      ...run,
      ...denoFlags,
      `${Lab.repoRoot}/main.ts`,
      "up",
      ...argsFor(h),
    ], {
      logFile: `agent-${h.name}.log`,
      cwd: Lab.repoRoot,
      env: { WEAVE_RUN_DIR: lab.agentRunDir, NO_COLOR: "1" },
    })
  ));
  return { startedAt, agents: new Map(handles.map((a) => [a.host.name, a])) };
}

/** One "session up" / "session down" line of an agent's log. */
export interface SessionEvent {
  at: number;
  agent: string;
  peer: string;
  up: boolean;
  reason?: string;
}

const EVENT_RE =
  /^(\S+) info {2}[^:]*: session (up|down) peer=(\S+)(?: reason=("(?:[^"\\]|\\.)*"|\S+))?/;

/** The session events in `text` (an agent's text log), in order. */
export function parseSessionEvents(agent: string, text: string): SessionEvent[] {
  const out: SessionEvent[] = [];
  for (const line of text.split("\n")) {
    const m = EVENT_RE.exec(line);
    if (!m) continue;
    const reason = m[4] === undefined ? undefined : m[4].startsWith('"') ? JSON.parse(m[4]) : m[4];
    out.push({ at: Date.parse(m[1]), agent, peer: m[3], up: m[2] === "up", reason });
  }
  return out;
}

/** The first time of `text`'s "agent up" line, or null. */
export function agentUpAt(text: string): number | null {
  const m = /^(\S+) info {2}[^:]*: agent up/m.exec(text);
  return m ? Date.parse(m[1]) : null;
}

/**
 * Reads agents' logs incrementally (only what was appended since the last call), and parses
 * only that: a hundred agents' logs re-read and re-parsed whole every poll made the harness
 * itself one of the busiest processes on the box while the fleet it measures converged.
 */
export class LogFollower {
  readonly #offsets = new Map<string, number>();
  readonly #partial = new Map<string, string>();
  readonly text = new Map<string, string>();
  /** Every agent's session events so far, in the order read. */
  readonly events: SessionEvent[] = [];

  constructor(readonly agents: Map<string, AgentHandle>) {}

  /** Appends what is new in every log; returns the names whose log grew. */
  async poll(): Promise<string[]> {
    const grew: string[] = [];
    for (const [name, a] of this.agents) {
      const off = this.#offsets.get(name) ?? 0;
      let f: Deno.FsFile;
      try {
        f = await Deno.open(a.logPath, { read: true });
      } catch {
        continue;
      }
      try {
        const size = (await f.stat()).size;
        if (size <= off) continue;
        await f.seek(off, Deno.SeekMode.Start);
        const buf = new Uint8Array(size - off);
        let n = 0;
        while (n < buf.length) {
          const r = await f.read(buf.subarray(n));
          if (r === null) break;
          n += r;
        }
        this.#offsets.set(name, off + n);
        const chunk = (this.#partial.get(name) ?? "") +
          new TextDecoder().decode(buf.subarray(0, n));
        const cut = chunk.lastIndexOf("\n") + 1;
        this.#partial.set(name, chunk.slice(cut));
        const lines = chunk.slice(0, cut);
        this.text.set(name, (this.text.get(name) ?? "") + lines);
        for (const e of parseSessionEvents(name, lines)) this.events.push(e);
        grew.push(name);
      } finally {
        f.close();
      }
    }
    return grew;
  }
}

/**
 * Where the mesh stands after `events`: for every agent and expected peer, the last word. The
 * mesh is converged when every last word is "up"; `convergedAt` is then the time of the latest
 * of those last words.
 */
export function meshState(
  names: string[],
  events: SessionEvent[],
): { up: number; expected: number; convergedAt: number | null } {
  const last = new Map<string, SessionEvent>();
  for (const e of events) last.set(`${e.agent}>${e.peer}`, e);
  let up = 0;
  let latest = 0;
  const set = new Set(names);
  for (const [key, e] of last) {
    if (!set.has(e.agent) || !set.has(e.peer) || !e.up) continue;
    void key;
    up++;
    latest = Math.max(latest, e.at);
  }
  const expected = names.length * (names.length - 1);
  return { up, expected, convergedAt: up === expected ? latest : null };
}

/** CPU seconds (own and waited-for children) and resident memory of one process. */
export interface ProcUsage {
  cpuSeconds: number;
  rssBytes: number;
  /**
   * The private part of the RSS (`RssAnon`: heaps, stacks, buffers). The rest (`RssFile`) is
   * pages of the deno executable, shared by every process that runs it and reclaimable.
   */
  privateBytes: number;
}

const CLOCK_TICKS = 100;

/**
 * A `/proc/…/stat` line read: the command name (in parentheses; it may contain spaces and
 * parentheses) and the CPU seconds of the task itself (utime + stime) and of its waited-for
 * children (cutime + cstime).
 */
function readStat(stat: string): { comm: string; ownSeconds: number; childSeconds: number } {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
    ownSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
    childSeconds: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS,
  };
}

/** /proc figures of `pid`, or null when it is gone. */
export async function procUsage(pid: number): Promise<ProcUsage | null> {
  try {
    const st = readStat(await Deno.readTextFile(`/proc/${pid}/stat`));
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    };
    return {
      cpuSeconds: st.ownSeconds + st.childSeconds,
      rssBytes: kb("VmRSS"),
      privateBytes: kb("RssAnon"),
    };
  } catch {
    return null;
  }
}

/**
 * CPU seconds of `pid` split by thread: the main thread as `main`, every other thread under its
 * kernel name (`worker-1`, `V8 DefaultWorke`, `tokio-runtime-w`, …; threads of one name summed),
 * the waited-for children (the `ip`, `bridge`, `nft` it ran) as `children`, and threads that have
 * ended as `ended threads` (the process's total less its live threads'). Empty when the process
 * is gone. Says where an agent's CPU goes without a profiler's overhead.
 */
export async function threadCpu(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const own = readStat(await Deno.readTextFile(`/proc/${pid}/stat`));
    out.set("children", own.childSeconds);
    let live = 0;
    for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const task = readStat(await Deno.readTextFile(`/proc/${pid}/task/${t.name}/stat`));
        const name = t.name === String(pid) ? "main" : task.comm;
        out.set(name, (out.get(name) ?? 0) + task.ownSeconds);
        live += task.ownSeconds;
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    out.set("ended threads", Math.max(0, own.ownSeconds - live));
  } catch {
    return new Map();
  }
  return out;
}

/** The median of `xs` (0 for none). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
