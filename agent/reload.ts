/**
 * Config reload: reading the config for this box, refusing a bad one (the one in force stays),
 * applying a good one in the order the parts need, and watching the files it comes from.
 *
 * What changed is decided by `diffConfigs` (config_diff.ts); which parts restart, and in which
 * order, by `applyConfigDiff` here; how each part restarts is the agent's (`ReloadableAgent`).
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import type { Config, Peer } from "../config/types.ts";
import { findSelf, formatDiagnostic, loadConfig, readPasswords } from "../config/mod.ts";
import { type ConfigDiff, diffConfigs } from "./config_diff.ts";
import type { Logger } from "./ops/log.ts";
import type { ReloadOutcome } from "./status.ts";

/** A config read for one box, with what was resolved from it. */
export interface LoadedConfig {
  config: Config;
  /** The file's text, to tell an unchanged file from a changed one. */
  text: string;
  self: Peer;
  /** The password's bytes; null when the config sets none. */
  password: Uint8Array | null;
  /** `password.previous`'s bytes during a rollout (#14); null when the config names none. */
  previousPassword: Uint8Array | null;
  loadedAt: Date;
}

/**
 * Reads and validates the config at `path` for peer `name`. Throws an Error whose message says
 * every problem (diagnostics with file:line:column); warnings are logged.
 */
export async function loadForPeer(path: string, name: string, log: Logger): Promise<LoadedConfig> {
  const result = await loadConfig(path);
  for (const d of result.diagnostics) {
    if (d.severity === "warning") log.warn(formatDiagnostic(d));
  }
  if (!result.ok) {
    throw new Error(
      "invalid config:\n" +
        result.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic).join("\n"),
    );
  }
  const config = result.config;
  const self = findSelf(config, name);
  if (!self) throw new Error(`peer ${name} is not in ${config.path}`);
  let passwords: ReturnType<typeof readPasswords>;
  try {
    passwords = readPasswords(config);
  } catch (e) {
    throw new Error(`password: ${e instanceof Error ? e.message : e}`);
  }
  const text = await Deno.readTextFile(path).catch(() => "");
  return {
    config,
    text,
    self,
    password: passwords?.current ?? null,
    previousPassword: passwords?.previous ?? null,
    loadedAt: new Date(),
  };
}

/** True when a reload would change nothing: same file text, policies and password bytes. */
export function sameConfig(a: LoadedConfig, b: LoadedConfig): boolean {
  return a.text === b.text &&
    // A policy file may change while weave.yaml stays the same.
    JSON.stringify(a.config.policies) === JSON.stringify(b.config.policies) &&
    JSON.stringify(a.config.password) === JSON.stringify(b.config.password) &&
    bytesEqual(a.password, b.password) && bytesEqual(a.previousPassword, b.previousPassword);
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The agent's parts as a reload restarts them. */
export interface ReloadableAgent {
  /** The config in force. */
  current(): LoadedConfig;
  /** Makes `next` the config in force (capability, pair context); restarts nothing. */
  /** Gathers what putting `next` in force needs (a kernel probe), before anything changes. */
  prepare(next: LoadedConfig): Promise<void>;
  putInForce(next: LoadedConfig): void;
  /** Ends every session and forgets every pair (keys or endpoints changed). */
  stopSessions(reason: string): void;
  /**
   * The passwords changed, nothing else about the sessions: they rekey under the new ones, no
   * session restarts (#14: a rollout without downtime).
   */
  setPasswords(current: Uint8Array | null, previous: Uint8Array | null): void;
  /** Forgets removed (or moved) peers and makes pairs for new ones. */
  updatePeers(removed: string[]): void;
  stopSleeve(): Promise<void>;
  startSleeve(): Promise<void>;
  /** Reconciles the host, rebinds heartbeat sockets, re-announces bridge MACs. */
  refreshHost(): Promise<void>;
  /** Attaches the sleeve to the networks in force and pushes every pair to it. */
  updateNetworks(): void;
  startSessions(): void;
  restartMetrics(): void;
}

/**
 * Applies a diff. The order matters: the host is reconciled before the sleeve attaches to its
 * TAPs (the reconciler creates them), and sessions start last, on the parts in force.
 */
export async function applyConfigDiff(diff: ConfigDiff, agent: ReloadableAgent): Promise<void> {
  if (diff.restartControl) agent.stopSessions("config reload");
  else if (diff.passwordsChanged) {
    agent.setPasswords(diff.passwords.current, diff.passwords.previous);
  }
  if (diff.peersChanged) agent.updatePeers(diff.removedPeers);
  if (diff.restartSleeve) await agent.stopSleeve();
  // Workloads, routes and policy are host state only: one reconcile (policy as one nft
  // transaction), nothing restarted.
  if (diff.networksChanged || diff.restartControl || diff.hostChanged) await agent.refreshHost();
  if (diff.restartSleeve) await agent.startSleeve();
  else if (diff.networksChanged) agent.updateNetworks();
  if (diff.restartControl) agent.startSessions();
  if (diff.metricsChanged) agent.restartMetrics();
}

/** Reloads on request, one at a time, and remembers the last outcome for `status`. */
export class ConfigReloader {
  #last: ReloadOutcome | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly name: string,
    private readonly agent: ReloadableAgent,
    private readonly log: Logger,
  ) {}

  get last(): ReloadOutcome | null {
    return this.#last;
  }

  /** Reloads the config; a bad one is refused and the one in force stays. */
  reload(trigger: string): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload(trigger));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(trigger: string): Promise<ReloadOutcome> {
    const at = new Date().toISOString();
    let next: LoadedConfig;
    try {
      next = await loadForPeer(this.path, this.name, this.log);
    } catch (e) {
      const message = e instanceof Error ? e.message : `${e}`;
      this.log.error(`reload (${trigger}) refused; keeping the config in force`, {});
      for (const line of message.split("\n")) this.log.error(line);
      return this.#last = { at, ok: false, message };
    }
    const cur = this.agent.current();
    if (sameConfig(cur, next)) return this.#last = { at, ok: true, message: "unchanged" };
    const diff = diffConfigs(
      cur.config,
      next.config,
      this.name,
      cur.password,
      next.password,
      cur.previousPassword,
      next.previousPassword,
    );
    await this.agent.prepare(next);
    this.agent.putInForce(next);
    await applyConfigDiff(diff, this.agent);
    const message = diff.summary.length ? diff.summary.join("; ") : "no effective change";
    this.log.info(`config reloaded (${trigger})`, { changes: message });
    return this.#last = { at, ok: true, message };
  }
}

/** How long file events must settle before a reload: editors write in several steps. */
export const WATCH_SETTLE_MS = 300;

/** Watches the config file and the password file (by their folders) and calls `onChange`. */
export class ConfigWatcher {
  #watcher: Deno.FsWatcher | null = null;
  #folders = "";
  #files = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly onChange: () => void, private readonly log: Logger) {}

  /** Watches exactly these files (the config, the password file, the policy files). */
  watch(files: string[]): void {
    this.#files = new Set(files.map((f) => resolve(f)));
    const folders = [...new Set([...this.#files].map((f) => dirname(f)))].sort();
    if (folders.join("\n") === this.#folders && this.#watcher) return;
    this.#watcher?.close();
    this.#folders = folders.join("\n");
    try {
      this.#watcher = Deno.watchFs(folders, { recursive: false });
    } catch (e) {
      this.#watcher = null;
      this.log.warn("cannot watch the config folder; reload with SIGHUP", { error: `${e}` });
      return;
    }
    this.#run(this.#watcher);
  }

  async #run(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (!ev.paths.some((p) => this.#files.has(resolve(p)))) continue;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(this.onChange, WATCH_SETTLE_MS);
      }
    } catch { /* watcher closed */ }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = null;
  }
}

/** The files a config comes from. */
export function configFiles(path: string, config: Config): string[] {
  const files = [path];
  for (const s of [config.password, config.previousPassword]) {
    if (s?.kind === "file") files.push(s.path);
  }
  // The NetworkPolicy documents of `policyFiles:` (each file that holds a policy).
  for (const f of new Set(config.policies.map((p) => p.origin.file))) {
    if (!files.includes(f)) files.push(f);
  }
  return files;
}
