/**
 * The network-namespace test lab: N hosts, each its own network namespace, joined by a veth
 * underlay into a Linux bridge that lives in a namespace of its own (the "switch"). Every
 * integration test builds its world with it.
 *
 * ```ts
 * await using lab = await Lab.create({ hosts: ["edge-1", "edge-2"] });
 * const r = await lab.exec("edge-1", ["ping", "-c1", "-W1", lab.hosts[1].address]);
 * const agent = await lab.startAgent("edge-1", ["-c", configPath, "--name", "edge-1"]);
 * await agent.waitForLog(/connected/, 10_000);
 * ```
 *
 * Topology and names (`P` is the per-run prefix, `wl` + 6 random base-36 chars, e.g. `wlk3x9a2`):
 *
 * - switch namespace `P-sw` holding bridge `br0`;
 * - host `i` (name `h`) is namespace `P-h`; its underlay link is `eth0`, address
 *   `10.254.0.(i+1)/24` by default (only ever assigned inside the namespaces); the switch end of
 *   its veth pair is `Ps<i>` (≤ 15 chars), a port of `br0`.
 *
 * The veth pairs are created directly inside the namespaces, so nothing of the lab ever appears
 * in the root namespace; deleting a namespace deletes its links.
 *
 * Cleanup: `destroy()` (also `await using`, `Lab.run`) kills every process the lab started and
 * everything else still running inside its namespaces, then deletes the namespaces. It is
 * idempotent, runs on SIGINT/SIGTERM, and synchronously at process exit (`unload`) for labs
 * never destroyed. A marker `/run/weave-lab/P/owner.json` names the owning process; a later
 * `Lab.cleanupStale()` removes the leftovers of runs whose owner died (e.g. SIGKILL).
 *
 * Logs of spawned processes go to a per-run folder under /tmp (`lab.runDir`). It is removed on
 * destroy unless the lab was marked failed (`lab.markFailed()`, a `waitForLog` timeout, a failed
 * `exec(..., { check: true })`, a throwing `Lab.run` body) or `WEAVE_LAB_KEEP_LOGS=1`; when kept,
 * its path is printed.
 *
 * @module
 */

import { type ExecResult, killNamespacePids, processStartTime, run, runSync } from "./run.ts";
import { type CleanupOptions, cleanupStale, LAB_MARKER_DIR, LAB_PREFIX_BASE } from "./stale.ts";
import { v8FlagsArg } from "../../agent/ops/v8_flags.ts";

export type { ExecResult } from "./run.ts";
export { LAB_MARKER_DIR, LAB_PREFIX_BASE, NETNS_PREFIXES } from "./stale.ts";

const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * How agents of this checkout are run: `deno run` with the checkout's node_modules as it is
 * (`--node-modules-dir=manual`). With the default (`auto`) every process takes the lock on
 * node_modules to check it, so agents started together queue for it one by one — a lab of fifty
 * took seconds just for that, which a compiled binary never pays. `agentRunArgs` fills
 * node_modules once per test process first (`deno install`), so a fresh clone works too.
 */
export async function agentRunArgs(): Promise<string[]> {
  nodeModulesReady ??= run([Deno.execPath(), "install", "--quiet"], {
    cwd: REPO_ROOT,
    timeoutMs: 300_000,
  }).then((r) => {
    if (r.code !== 0) throw new Error(`deno install failed: ${r.stderr.trim()}`);
  });
  await nodeModulesReady;
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-ffi",
    "--node-modules-dir=manual",
    v8FlagsArg(),
  ];
}
let nodeModulesReady: Promise<void> | undefined;
const HOST_NAME_RE = /^[a-z][a-z0-9-]{0,23}$/;
/** A run prefix: `cleanupStale` reclaims exactly these (stale.ts, `NETNS_PREFIXES`). */
const PREFIX_RE = new RegExp(`^${LAB_PREFIX_BASE}[a-z0-9]{6}$`);

/** Options of `Lab.create`. */
export interface LabOptions {
  /**
   * How many hosts (named `edge-1`…`edge-N`), or their names (`[a-z][a-z0-9-]*`). With 0 there
   * is no switch either: a lab of bare namespaces made with `addMachine`, for tests that need
   * a throwaway namespace (reclaimed like any lab's if the test dies).
   */
  hosts: number | string[];
  /** MTU of every underlay link and the bridge; default 1500. */
  underlayMtu?: number;
  /** Run prefix; default `wl` + 6 random base-36 characters (a given one must have that form). */
  prefix?: string;
  /** First three octets of the underlay /24; default `10.254.0`. Host i gets `.i+1`. */
  underlayNet?: string;
}

/** One host of the lab. */
export interface LabHost {
  /** The name given (or `edge-N`). */
  name: string;
  /** Its network namespace. */
  ns: string;
  /** Its underlay IPv4 address (no prefix length). */
  address: string;
  /** Prefix length of the underlay subnet (24). */
  prefixLength: number;
  /** Name of its underlay link inside `ns` (`eth0`). */
  link: string;
  /** Position in `lab.hosts` (-1 for a machine added with `addMachine`). */
  index: number;
}

/** A host by object, name or index. */
export type HostRef = LabHost | string | number;

/** Options of `lab.exec`. */
export interface ExecOptions {
  /** Written to the command's stdin. */
  stdin?: string;
  /** Killed (SIGKILL) after this long; default 30 s. The result then has code 124. */
  timeoutMs?: number;
  /** Throw (and mark the lab failed) on a non-zero exit. */
  check?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

/** Options of `lab.spawn`. */
export interface SpawnOptions {
  /** File name inside `lab.runDir` receiving stdout and stderr. */
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** A long-running process started by the lab inside a host's namespace. */
export interface LabProcess {
  process: Deno.ChildProcess;
  pid: number;
  host: LabHost;
  /** Absolute path of its combined stdout/stderr log. */
  logPath: string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** Everything it has printed so far. */
  readLog(): Promise<string>;
  /**
   * Resolves with the first match of `re` in the log; rejects after `timeoutMs` (or when the
   * process exits without printing it) with the log's tail in the message.
   */
  waitForLog(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGTERM), waits up to `timeoutMs` (5 s), then SIGKILLs. */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/** `lab.startAgent` handle: a LabProcess running `main.ts up`. */
export type AgentHandle = LabProcess;

/** A firewall rule set installed by `partition`/`blockUdp`; `undo()` removes it. */
export interface LabFault {
  undo(): Promise<void>;
}

const liveLabs = new Set<Lab>();
let signalHandlersInstalled = false;

function onSignal(signal: Deno.Signal, code: number) {
  return async () => {
    console.error(`\nweave lab: ${signal}, tearing down ${liveLabs.size} lab(s)`);
    await Promise.allSettled([...liveLabs].map((l) => l.destroy({ keepLogs: true })));
    Deno.exit(code);
  };
}
const sigint = onSignal("SIGINT", 130);
const sigterm = onSignal("SIGTERM", 143);
function onUnload() {
  for (const lab of liveLabs) lab.destroySync();
}

function installSignalHandlers() {
  if (signalHandlersInstalled) return;
  Deno.addSignalListener("SIGINT", sigint);
  Deno.addSignalListener("SIGTERM", sigterm);
  globalThis.addEventListener("unload", onUnload);
  signalHandlersInstalled = true;
}

function removeSignalHandlersIfIdle() {
  if (!signalHandlersInstalled || liveLabs.size > 0) return;
  Deno.removeSignalListener("SIGINT", sigint);
  Deno.removeSignalListener("SIGTERM", sigterm);
  globalThis.removeEventListener("unload", onUnload);
  signalHandlersInstalled = false;
}

async function must(argv: string[], what: string): Promise<string> {
  const r = await run(argv);
  if (!r.success) {
    throw new Error(`lab: ${what} failed: ${argv.join(" ")}: ${r.stderr.trim() || r.stdout}`);
  }
  return r.stdout;
}

function randomPrefix(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return LAB_PREFIX_BASE + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** A running lab. Create with `Lab.create` or `Lab.run`. */
export class Lab {
  /** The hosts, in the order given. */
  readonly hosts: LabHost[];
  /** Namespace of the switch (holds bridge `br0`). */
  readonly switchNs: string;
  #processes = new Set<LabProcess>();
  #namespaces: string[] = [];
  /** Bare namespaces added with `addMachine` (no underlay, no agent). */
  #machines: LabHost[] = [];
  #destroyed = false;
  #failed = false;
  #faultCount = 0;

  private constructor(
    /** This run's prefix; every namespace and link name of the lab starts with it. */
    readonly prefix: string,
    /** Per-run folder (logs, files written with `writeFile`). */
    readonly runDir: string,
    readonly underlayMtu: number,
    hosts: LabHost[],
  ) {
    this.hosts = hosts;
    this.switchNs = `${prefix}-sw`;
  }

  /** The repository root (where main.ts lives). */
  static readonly repoRoot = REPO_ROOT;

  /** Builds a lab; on any error everything built so far is torn down before rethrowing. */
  static async create(opts: LabOptions): Promise<Lab> {
    const names = typeof opts.hosts === "number"
      ? Array.from({ length: opts.hosts }, (_, i) => `edge-${i + 1}`)
      : opts.hosts;
    if (names.length > 200) throw new Error("lab: 0..200 hosts");
    for (const n of names) {
      if (!HOST_NAME_RE.test(n)) throw new Error(`lab: invalid host name ${JSON.stringify(n)}`);
    }
    if (new Set(names).size !== names.length) throw new Error("lab: duplicate host names");
    const prefix = opts.prefix ?? randomPrefix();
    if (!PREFIX_RE.test(prefix)) throw new Error(`lab: invalid prefix ${JSON.stringify(prefix)}`);
    const net = opts.underlayNet ?? "10.254.0";
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(net)) throw new Error(`lab: bad underlayNet ${net}`);
    const mtu = opts.underlayMtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new Error(`lab: bad mtu ${mtu}`);

    const runDir = await Deno.makeTempDir({ prefix: `weave-lab-${prefix}-` });
    const hosts: LabHost[] = names.map((name, index) => ({
      name,
      ns: `${prefix}-${name}`,
      address: `${net}.${index + 1}`,
      prefixLength: 24,
      link: "eth0",
      index,
    }));
    const lab = new Lab(prefix, runDir, mtu, hosts);
    // The marker first: a crash after this point leaves something cleanupStale can attribute.
    await Deno.mkdir(`${LAB_MARKER_DIR}/${prefix}`, { recursive: true });
    await Deno.writeTextFile(
      `${LAB_MARKER_DIR}/${prefix}/owner.json`,
      JSON.stringify({ pid: Deno.pid, startTime: processStartTime(Deno.pid), runDir }),
    );
    liveLabs.add(lab);
    installSignalHandlers();
    try {
      await lab.#build(mtu);
    } catch (e) {
      await lab.destroy({ keepLogs: true });
      throw e;
    }
    return lab;
  }

  /**
   * Creates a lab, runs `fn`, and always destroys it; logs are kept (and their folder printed)
   * when `fn` throws.
   */
  static async run<T>(opts: LabOptions, fn: (lab: Lab) => Promise<T>): Promise<T> {
    const lab = await Lab.create(opts);
    try {
      return await fn(lab);
    } catch (e) {
      lab.markFailed();
      throw e;
    } finally {
      await lab.destroy();
    }
  }

  async #addNs(ns: string): Promise<void> {
    await must(["ip", "netns", "add", ns], "create namespace");
    this.#namespaces.push(ns);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"], "loopback up");
  }

  async #build(mtu: number): Promise<void> {
    if (this.hosts.length === 0) return; // bare namespaces only, from addMachine
    const sw = this.switchNs;
    await this.#addNs(sw);
    await must(
      ["ip", "-n", sw, "link", "add", "br0", "mtu", String(mtu), "type", "bridge"],
      "create bridge",
    );
    await must(["ip", "-n", sw, "link", "set", "br0", "up"], "bridge up");
    for (const h of this.hosts) {
      await this.#addNs(h.ns);
      const port = `${this.prefix}s${h.index}`;
      await must([
        "ip",
        "link",
        "add",
        h.link,
        "netns",
        h.ns,
        "mtu",
        String(mtu),
        "type",
        "veth",
        "peer",
        "name",
        port,
        "netns",
        sw,
        "mtu",
        String(mtu),
      ], "create veth");
      await must(["ip", "-n", sw, "link", "set", port, "master", "br0", "up"], "attach port");
      await must(
        ["ip", "-n", h.ns, "addr", "add", `${h.address}/${h.prefixLength}`, "dev", h.link],
        "assign underlay address",
      );
      await must(["ip", "-n", h.ns, "link", "set", h.link, "up"], "underlay up");
    }
  }

  /**
   * A bare namespace `<prefix>-<name>` (loopback up, nothing else), torn down with the lab: a
   * machine behind one of the hosts, which the test wires up itself. `exec`, `spawn` and
   * `host()` accept its name.
   */
  async addMachine(name: string): Promise<LabHost> {
    this.#assertLive();
    if (
      !HOST_NAME_RE.test(name) || name === "sw" ||
      [...this.hosts, ...this.#machines].some((h) => h.name === name)
    ) {
      throw new Error(`lab: invalid or taken machine name ${JSON.stringify(name)}`);
    }
    const m: LabHost = {
      name,
      ns: `${this.prefix}-${name}`,
      address: "",
      prefixLength: 0,
      link: "",
      index: -1,
    };
    await this.#addNs(m.ns);
    this.#machines.push(m);
    return m;
  }

  /** The host `ref` names (object, name or index); throws for an unknown one. */
  host(ref: HostRef): LabHost {
    const all = [...this.hosts, ...this.#machines];
    const h = typeof ref === "number"
      ? this.hosts[ref]
      : typeof ref === "string"
      ? all.find((x) => x.name === ref)
      : all.find((x) => x === ref || x.name === ref.name);
    if (!h) throw new Error(`lab: no host ${JSON.stringify(ref)}`);
    return h;
  }

  /** Marks the run failed: its log folder is kept on destroy. */
  markFailed(): void {
    this.#failed = true;
  }

  /** Runs `argv` in `host`'s namespace (`ip netns exec`) and waits for it. */
  async exec(host: HostRef, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.#assertLive();
    const h = this.host(host);
    const r = await run(["ip", "netns", "exec", h.ns, ...argv], opts);
    if (opts.check && !r.success) {
      this.markFailed();
      throw new Error(
        `lab: on ${h.name}: ${argv.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout}`,
      );
    }
    return r;
  }

  /** Writes `content` to `name` inside the run folder; returns the absolute path. */
  async writeFile(name: string, content: string | Uint8Array, mode = 0o644): Promise<string> {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(name) || name.split("/").includes("..")) {
      throw new Error(`lab: bad file name ${JSON.stringify(name)}`);
    }
    const path = `${this.runDir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content, { mode });
    else await Deno.writeFile(path, content, { mode });
    await Deno.chmod(path, mode); // `mode` only applies on creation, and umask trims it
    return path;
  }

  /** Starts a long-running `argv` in `host`'s namespace, its output going to `logFile`. */
  async spawn(host: HostRef, argv: string[], opts: SpawnOptions): Promise<LabProcess> {
    this.#assertLive();
    const h = this.host(host);
    // Logs live in their own folder: agents watch the folder of their config (the run folder),
    // and every line fifty agents append there would wake every agent's watcher (N² events).
    const logPath = await this.writeFile(`logs/${opts.logFile}`, "");
    const file = await Deno.open(logPath, { write: true, append: true });
    const process = new Deno.Command("ip", {
      args: ["netns", "exec", h.ns, ...argv],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: opts.env,
      cwd: opts.cwd,
    }).spawn();
    // Both streams into one file, chunk by chunk, in arrival order.
    let writes = Promise.resolve();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        writes = writes.then(async () => {
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
        }).catch(() => {});
      }
    };
    const pumps = Promise.allSettled([pump(process.stdout), pump(process.stderr)]);
    const status = process.status.then(async (s) => {
      await pumps;
      await writes;
      file.close();
      return s;
    });
    let exited = false;
    status.then(() => exited = true);
    const handle: LabProcess = {
      process,
      pid: process.pid,
      host: h,
      logPath,
      status,
      readLog: () => Deno.readTextFile(logPath),
      waitForLog: async (re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> => {
        const deadline = Date.now() + timeoutMs;
        while (true) {
          const text = await Deno.readTextFile(logPath);
          const m = text.match(re);
          if (m) return m;
          if (exited || Date.now() >= deadline) {
            await writes;
            const final = await Deno.readTextFile(logPath);
            const again = final.match(re);
            if (again) return again;
            this.markFailed();
            const tail = final.split("\n").slice(-40).join("\n");
            throw new Error(
              `lab: ${re} not in ${logPath} ${
                exited ? "(process exited)" : `after ${timeoutMs} ms`
              }; last lines:\n${tail}`,
            );
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      stop: async (signal: Deno.Signal = "SIGTERM", timeoutMs = 5000) => {
        if (!exited) {
          try {
            process.kill(signal);
          } catch { /* exited meanwhile */ }
          let timer: ReturnType<typeof setTimeout> | undefined;
          const killed = new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              try {
                process.kill("SIGKILL");
              } catch { /* gone */ }
              resolve();
            }, timeoutMs);
          });
          await Promise.race([status, killed]);
          clearTimeout(timer);
        }
        const s = await status;
        this.#processes.delete(handle);
        return s;
      },
    };
    this.#processes.add(handle);
    return handle;
  }

  /**
   * Runs the agent from this checkout in `host`'s namespace:
   * `deno run --allow-all --unstable-ffi <repo>/main.ts up ...args`, logging to
   * `agent-<host>.log`. Its run dir (control socket) is `<runDir>/agent-run` via
   * `WEAVE_RUN_DIR`, so agents of concurrent labs with the same peer names never collide.
   */
  async startAgent(
    host: HostRef,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<AgentHandle> {
    const h = this.host(host);
    return this.spawn(
      h,
      [...await agentRunArgs(), `${REPO_ROOT}/main.ts`, "up", ...args],
      {
        logFile: `agent-${h.name}.log`,
        cwd: REPO_ROOT,
        env: { WEAVE_RUN_DIR: this.agentRunDir, NO_COLOR: "1", ...env },
      },
    );
  }

  /** The run dir agents started by `startAgent` use (`WEAVE_RUN_DIR`). */
  get agentRunDir(): string {
    return `${this.runDir}/agent-run`;
  }

  async #installFault(host: LabHost, rules: string[]): Promise<LabFault> {
    const table = `weave_lab_fault${this.#faultCount++}`;
    const ruleset = [
      `table inet ${table} {`,
      `  chain input { type filter hook input priority -10; policy accept;`,
      ...rules.filter((r) => r.startsWith("input ")).map((r) => `    ${r.slice(6)}`),
      `  }`,
      `  chain output { type filter hook output priority -10; policy accept;`,
      ...rules.filter((r) => r.startsWith("output ")).map((r) => `    ${r.slice(7)}`),
      `  }`,
      `}`,
    ].join("\n");
    await this.exec(host, ["nft", "-f", "-"], { stdin: ruleset, check: true });
    let undone = false;
    return {
      undo: async () => {
        if (undone || this.#destroyed) return;
        undone = true;
        await this.exec(host, ["nft", "delete", "table", "inet", table], { check: true });
      },
    };
  }

  /** Drops all IP traffic between `a` and `b` (nft rules in `a`'s namespace, both directions). */
  partition(a: HostRef, b: HostRef): Promise<LabFault> {
    const peer = this.host(b).address;
    return this.#installFault(this.host(a), [
      `input ip saddr ${peer} drop`,
      `output ip daddr ${peer} drop`,
    ]);
  }

  /**
   * Drops UDP to destination port `port` between `a` and `b`, both directions (a → b:port and
   * b → a:port), e.g. the VXLAN port to force a pair onto the sleeve.
   */
  blockUdp(a: HostRef, b: HostRef, port: number): Promise<LabFault> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`lab: bad port`);
    const peer = this.host(b).address;
    return this.#installFault(this.host(a), [
      `input ip saddr ${peer} udp dport ${port} drop`,
      `output ip daddr ${peer} udp dport ${port} drop`,
    ]);
  }

  #assertLive() {
    if (this.#destroyed) throw new Error("lab: already destroyed");
  }

  /**
   * Tears everything down: stops the processes it started (SIGTERM, then SIGKILL after 2 s),
   * kills anything else left in its namespaces, deletes the namespaces (and so their links),
   * removes the marker, and removes the run folder unless the run failed or `keepLogs`.
   * Idempotent; never throws.
   */
  async destroy(opts: { keepLogs?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.allSettled([...this.#processes].map((p) => p.stop("SIGTERM", 2000)));
    for (const ns of this.#namespaces) await killNamespacePids(ns).catch(() => {});
    for (const ns of [...this.#namespaces].reverse()) {
      await run(["ip", "netns", "del", ns]).catch(() => {});
    }
    await Deno.remove(`${LAB_MARKER_DIR}/${this.prefix}`, { recursive: true }).catch(() => {});
    const keep = opts.keepLogs || this.#failed || Deno.env.get("WEAVE_LAB_KEEP_LOGS") === "1";
    if (keep) console.error(`weave lab ${this.prefix}: logs kept in ${this.runDir}`);
    else await Deno.remove(this.runDir, { recursive: true }).catch(() => {});
    liveLabs.delete(this);
    removeSignalHandlersIfIdle();
  }

  /** Synchronous last-resort teardown for process exit; keeps logs. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#processes) {
      try {
        p.process.kill("SIGKILL");
      } catch { /* gone */ }
    }
    for (const ns of [...this.#namespaces].reverse()) runSync(["ip", "netns", "del", ns]);
    try {
      Deno.removeSync(`${LAB_MARKER_DIR}/${this.prefix}`, { recursive: true });
    } catch { /* gone */ }
    liveLabs.delete(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  /** Whether `destroy` has run. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Removes the leftovers of dead runs, every family of `NETNS_PREFIXES` (see stale.ts). */
  static cleanupStale(opts: CleanupOptions = {}): Promise<string[]> {
    return cleanupStale(opts);
  }
}
