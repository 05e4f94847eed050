/**
 * The running agent: config in force, control-plane sessions, the datapath each pair uses, the
 * host reconciler, the control socket, metrics and reload. It decides nothing itself that a
 * pure function can decide (see datapath_choice.ts, datapath/fastdp/plan.ts); it sequences.
 *
 * @module
 */

import type { Config, Network, Peer } from "../config/types.ts";
import { findSelf, formatDiagnostic, loadConfig, readPassword } from "../config/mod.ts";
import { buildDesiredHost, networksOf, overlayMtu } from "./desired_host.ts";
import { planNow, reconcileHost, type WorkloadState } from "./host_reconcile.ts";
import { resolvePolicies } from "./policy_resolve.ts";
import { type PolicyStatus, policyStatus } from "./policy_status.ts";
import { bridgeName, tapName } from "../datapath/link_names.ts";
import { datapathCaps, probeKernel } from "../datapath/kernel_probe.ts";
import {
  type DesiredHost,
  type PolicyCounter,
  readPolicyCounters,
  renderPlan,
} from "../datapath/host/mod.ts";
import {
  type AeadName,
  Sleeve,
  sleeveCryptoFromEnv,
  type SleeveNetwork,
} from "../datapath/sleeve/mod.ts";
import { PeerConnections } from "./control/peer_connections.ts";
import type { SessionSecrets } from "./control/session_keys.ts";
import type { Logger } from "./ops/log.ts";
import {
  type FastdpCapability,
  isDecider,
  type KernelDatapathCaps,
  localFastdpCapability,
  type PairDatapath,
  pairProbeDecision,
  pairStartDecision,
} from "./datapath_choice.ts";
import { VxlanHeartbeat } from "./vxlan_heartbeat.ts";
import { runCommand } from "../datapath/command.ts";
import { type ControlRequest, ControlSocketServer } from "./ops/control_socket.ts";
import { runPaths } from "./ops/run_paths.ts";
import { MetricsServer, renderMetrics } from "./ops/metrics.ts";
import { diffConfigs } from "./config_diff.ts";

/** Options of `weave-agent up`. */
export interface AgentOptions {
  configPath: string;
  name: string;
  runDir: string;
  log: Logger;
}

/** Control messages the agent exchanges with a peer, on top of the session's own heartbeats. */
type AgentMessage =
  | {
    type: "caps";
    fastdp: boolean;
    fastdpReason: string;
    aead: AeadName;
    sleeveIndex: number;
    macs: Record<string, string[]>;
  }
  | { type: "macs"; macs: Record<string, string[]> }
  | { type: "hb-ack"; nonce: string }
  | { type: "probe-result"; ok: boolean }
  | { type: "datapath"; datapath: "fastdp" | "sleeve"; reason: string };

/** What the agent knows about one peer. */
interface PeerState {
  peer: Peer;
  secrets: SessionSecrets | null;
  sessionSince: number | null;
  remote: { cap: FastdpCapability; aead: string; sleeveIndex: number } | null;
  localIndex: number;
  datapath: PairDatapath;
  reason: string;
  /** Bridge MACs per VNI, as the peer announced them. */
  macs: Record<string, string[]>;
  probe: {
    started: number;
    localOk: boolean | null;
    remoteOk: boolean | null;
    pending: Set<string>;
    lastAck: number;
  } | null;
}

/** How long the VXLAN heartbeat may take before a pair falls back to the sleeve. */
const PROBE_TIMEOUT_MS = 5000;
const PROBE_INTERVAL_MS = 300;
/** Steady-state heartbeat through VXLAN on fast-datapath pairs. */
const FASTDP_HEARTBEAT_MS = 2000;
const FASTDP_DEAD_MS = 8000;
const RECONCILE_INTERVAL_MS = 30_000;
/** While a workload is not plumbed (its namespace missing), reconcile this often. */
const WORKLOAD_RETRY_MS = 3_000;

/** The agent process's state machine. */
export class Agent {
  #config!: Config;
  #configText = "";
  #loadedAt = new Date();
  #self!: Peer;
  #password: Uint8Array | null = null;
  #caps!: KernelDatapathCaps;
  #sleeveCrypto: ReturnType<typeof sleeveCryptoFromEnv> = "auto";
  #capability!: FastdpCapability;
  #sleeve: Sleeve | null = null;
  #control: PeerConnections | null = null;
  #heartbeat: VxlanHeartbeat | null = null;
  #socket: ControlSocketServer | null = null;
  #metrics: MetricsServer | null = null;
  #peers = new Map<string, PeerState>();
  #localMacs: Record<string, string[]> = {};
  #timers: ReturnType<typeof setInterval>[] = [];
  #reconciling: Promise<void> | null = null;
  #reconcileAgain = false;
  /** Per-workload outcome of the last reconcile. */
  #workloads: WorkloadState[] = [];
  #workloadRetry: ReturnType<typeof setTimeout> | undefined;
  /** Policy rule counters as last read (on status requests and after each reconcile). */
  #policyCounters: PolicyCounter[] = [];
  #oversizeReported = 0;
  #lastReconcile: { at: string; changes: number; error?: string } | null = null;
  #lastReload: { at: string; ok: boolean; message: string } | null = null;
  #stopping = false;
  #stopped: PromiseWithResolvers<void> = Promise.withResolvers();
  #watcher: Deno.FsWatcher | null = null;
  #nextIndex = crypto.getRandomValues(new Uint32Array(1))[0] | 1;

  constructor(private readonly opts: AgentOptions) {}

  get log(): Logger {
    return this.opts.log;
  }

  /** Starts everything; resolves once the agent is serving. Throws on fatal start-up errors. */
  async start(): Promise<void> {
    const paths = runPaths(this.opts.runDir, this.opts.name);
    // Before anything touches the kernel: a bad value is a start-up error, not a half-built box.
    this.#sleeveCrypto = sleeveCryptoFromEnv();
    const loaded = await this.#load();
    this.#config = loaded.config;
    this.#configText = loaded.text;
    const self = findSelf(this.#config, this.opts.name);
    if (!self) throw new Error(`peer ${this.opts.name} is not in ${this.#config.path}`);
    this.#self = self;
    this.#password = readPassword(this.#config);
    if (!this.#password) {
      this.log.warn(
        "NO ENCRYPTION: weave.yaml sets no password; peers are not authenticated and traffic " +
          "crosses the underlay in clear text",
      );
    }

    const probe = await probeKernel();
    this.#caps = datapathCaps(probe);
    this.#capability = localFastdpCapability(
      this.#config.datapath,
      this.#password !== null,
      this.#caps,
    );
    if (this.#config.datapath === "fastdp" && !this.#capability.capable) {
      throw new Error(
        `datapath: fastdp is configured but ${this.#capability.reason}; ` +
          "use datapath: auto to fall back to the sleeve, or fix the kernel (see weave-agent check)",
      );
    }
    if (!this.#capability.capable && this.#config.datapath === "auto") {
      this.log.warn(
        `fast datapath unavailable on this box: ${this.#capability.reason}; ` +
          "every peer pair uses the encrypted sleeve",
      );
    } else {
      this.log.info("datapath capability", {
        fastdp: this.#capability.capable,
        why: this.#capability.reason,
      });
    }

    // Owned kernel objects first: the sleeve attaches to the TAPs the reconciler creates.
    await this.reconcile();

    this.#sleeve = await Sleeve.start({
      listenAddress: self.address,
      port: self.port,
      networks: this.#sleeveNetworks(),
      logger: this.log.child("sleeve"),
      backend: this.#sleeveCrypto,
    });
    this.log.info("sleeve ready", {
      backend: this.#sleeve.backend,
      aead: this.#sleeve.preferredAead,
      port: self.port,
    });

    this.#heartbeat = new VxlanHeartbeat(
      self.port,
      (from, nonce) => this.#onHeartbeat(from, nonce),
      this.log.child("heartbeat"),
    );
    this.#heartbeat.setAddresses(this.#myNetworks().map((n) => this.#memberAddress(n)!));
    await this.#refreshLocalMacs();

    this.#startControl();

    this.#socket = await ControlSocketServer.listen(
      paths.socket,
      (req) => this.#handleControl(req),
      this.log.child("control-socket"),
    );
    await Deno.writeTextFile(paths.pid, `${Deno.pid}\n`, { mode: 0o600 }).catch(() => {});
    this.#startMetrics();
    this.#timers.push(setInterval(() => this.#tick(), 1000));
    this.#timers.push(setInterval(() => this.requestReconcile(), RECONCILE_INTERVAL_MS));
    this.#watchConfig();
    this.log.info("agent up", {
      peer: self.name,
      address: `${self.address}:${self.port}`,
      networks: this.#myNetworks().map((n) => n.name).join(","),
      peers: this.#config.peers.length - 1,
    });
  }

  /** Resolves when the agent has stopped. */
  get stopped(): Promise<void> {
    return this.#stopped.promise;
  }

  async #load(): Promise<{ config: Config; text: string }> {
    const result = await loadConfig(this.opts.configPath);
    for (const d of result.diagnostics) {
      if (d.severity === "warning") this.log.warn(formatDiagnostic(d));
    }
    if (!result.ok) {
      throw new Error(
        "invalid config:\n" +
          result.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic).join("\n"),
      );
    }
    const text = await Deno.readTextFile(this.opts.configPath).catch(() => "");
    return { config: result.config, text: text + JSON.stringify(result.config.password) };
  }

  // ---- networks and host state ----

  #myNetworks(config: Config = this.#config): Network[] {
    return networksOf(config, this.opts.name);
  }

  #memberAddress(n: Network, peer = this.opts.name): string | undefined {
    return n.members.find((m) => m.peer === peer)?.address;
  }

  #mtu(): number {
    return overlayMtu(this.#config, this.#password !== null);
  }

  #sleeveNetworks(): SleeveNetwork[] {
    if (this.#config.datapath === "fastdp") return [];
    return this.#myNetworks().map((n) => ({
      vni: n.vni,
      name: n.name,
      tap: tapName(n.name),
      mtu: this.#mtu(),
    }));
  }

  /** Desired kernel state from the config and the sessions. */
  desiredHost(): DesiredHost {
    return buildDesiredHost({
      config: this.#config,
      self: this.#self,
      encrypted: this.#password !== null,
      fastdpCapable: this.#capability.capable,
      fastPeers: [...this.#peers.values()]
        .filter((p) => (p.datapath === "fastdp" || p.datapath === "probing") && p.secrets)
        .map((p) => ({ peer: p.peer, secrets: p.secrets!, macs: p.macs })),
    });
  }

  /** Runs one reconcile now, or once more after the one under way. */
  requestReconcile(): Promise<void> {
    if (this.#reconciling) {
      this.#reconcileAgain = true;
      return this.#reconciling;
    }
    this.#reconciling = this.reconcile().finally(() => {
      this.#reconciling = null;
      if (this.#reconcileAgain && !this.#stopping) {
        this.#reconcileAgain = false;
        this.requestReconcile();
      }
    });
    return this.#reconciling;
  }

  /** One reconcile in `WORKLOAD_RETRY_MS`, so a namespace that appears is plumbed soon. */
  #retryWorkloadsSoon(): void {
    if (this.#workloadRetry !== undefined || this.#stopping) return;
    this.#workloadRetry = setTimeout(() => {
      this.#workloadRetry = undefined;
      if (!this.#stopping) this.requestReconcile();
    }, WORKLOAD_RETRY_MS);
  }

  /** Observe, plan, apply. Errors are logged and shown in status; the next pass retries. */
  async reconcile(): Promise<void> {
    const at = new Date().toISOString();
    try {
      const r = await reconcileHost(this.desiredHost(), { log: (l) => this.log.debug(l) });
      if (r.changes.length > 0) this.log.info("reconcile", { changes: r.changes.length });
      this.#workloads = r.workloads;
      for (const w of r.workloads.filter((w) => w.state === "error")) {
        this.log.warn("workload not plumbed", { workload: w.name, error: w.error ?? "" });
      }
      this.#lastReconcile = { at, changes: r.changes.length };
      if (r.workloads.some((w) => w.state === "error")) this.#retryWorkloadsSoon();
    } catch (e) {
      this.#lastReconcile = { at, changes: 0, error: e instanceof Error ? e.message : `${e}` };
      this.log.error("reconcile failed", { error: this.#lastReconcile.error });
    }
  }

  async #refreshLocalMacs(): Promise<void> {
    const macs: Record<string, string[]> = {};
    for (const n of this.#myNetworks()) {
      const out = await runCommand("ip", ["-json", "link", "show", "dev", bridgeName(n.name)]);
      if (!out.ok) continue;
      const [link] = JSON.parse(out.stdout) as { address?: string }[];
      if (link?.address) macs[String(n.vni)] = [link.address];
    }
    const changed = JSON.stringify(macs) !== JSON.stringify(this.#localMacs);
    this.#localMacs = macs;
    if (changed && this.#control) {
      for (const p of this.#peers.values()) {
        if (p.secrets) this.#send(p.peer.name, { type: "macs", macs });
      }
    }
  }

  // ---- control plane ----

  #startControl(): void {
    const control = new PeerConnections({
      localName: this.#self.name,
      listenAddress: this.#self.address,
      listenPort: this.#self.port,
      peers: this.#otherPeers().map((p) => ({ name: p.name, address: p.address, port: p.port })),
      password: this.#password,
      logger: this.log.child("control"),
      onSessionUp: ({ peer, secrets }) => this.#onSessionUp(peer, secrets),
      onSessionDown: ({ peer, reason }) => this.#onSessionDown(peer, reason),
      onMessage: ({ peer, msg }) => this.#onMessage(peer, msg as AgentMessage),
    });
    for (const p of this.#otherPeers()) this.#peerState(p);
    control.start();
    this.#control = control;
  }

  #otherPeers(config: Config = this.#config): Peer[] {
    return config.peers.filter((p) => p.name !== this.opts.name);
  }

  #peerState(peer: Peer): PeerState {
    let s = this.#peers.get(peer.name);
    if (!s) {
      s = {
        peer,
        secrets: null,
        sessionSince: null,
        remote: null,
        localIndex: 0,
        datapath: "pending",
        reason: "no session yet",
        macs: {},
        probe: null,
      };
      this.#peers.set(peer.name, s);
    }
    s.peer = peer;
    return s;
  }

  #send(peer: string, msg: AgentMessage): boolean {
    return this.#control?.send(peer, msg) ?? false;
  }

  #sharedNetworks(peer: string): Network[] {
    return this.#myNetworks().filter((n) => n.members.some((m) => m.peer === peer));
  }

  #onSessionUp(name: string, secrets: SessionSecrets): void {
    const peer = this.#config.peers.find((p) => p.name === name);
    if (!peer) return;
    const s = this.#peerState(peer);
    s.secrets = secrets;
    s.sessionSince = Date.now();
    s.remote = null;
    s.probe = null;
    s.localIndex = this.#nextIndex = (this.#nextIndex + 1) >>> 0 || 1;
    s.datapath = "pending";
    s.reason = "session up; waiting for the peer's capabilities";
    this.log.info("session up", {
      peer: name,
      authenticated: secrets.authenticated,
      session: secrets.id,
    });
    this.#pushSleevePeer(s);
    this.#send(name, {
      type: "caps",
      fastdp: this.#capability.capable,
      fastdpReason: this.#capability.reason,
      aead: this.#sleeve?.preferredAead ?? "aes-256-gcm",
      sleeveIndex: s.localIndex,
      macs: this.#localMacs,
    });
  }

  #onSessionDown(name: string, reason: string): void {
    const s = this.#peers.get(name);
    if (!s) return;
    const wasFast = s.datapath === "fastdp" || s.datapath === "probing";
    s.secrets = null;
    s.sessionSince = null;
    s.remote = null;
    s.probe = null;
    s.datapath = "pending";
    s.reason = `session down: ${reason}`;
    this.log.info("session down", { peer: name, reason });
    this.#pushSleevePeer(s);
    if (wasFast) this.requestReconcile();
  }

  #onMessage(name: string, msg: AgentMessage): void {
    const s = this.#peers.get(name);
    if (!s || !s.secrets) return;
    switch (msg.type) {
      case "caps": {
        s.remote = {
          cap: { capable: !!msg.fastdp, reason: String(msg.fastdpReason ?? "") },
          aead: msg.aead === "chacha20-poly1305" ? msg.aead : "aes-256-gcm",
          sleeveIndex: Number(msg.sleeveIndex) >>> 0,
        };
        s.macs = sanitizeMacs(msg.macs);
        const shared = this.#sharedNetworks(name);
        const d = shared.length === 0
          ? { datapath: "sleeve" as const, reason: "no network in common (idle)" }
          : pairStartDecision(this.#capability, s.remote.cap, name);
        this.#setDatapath(s, d.datapath, d.reason);
        break;
      }
      case "macs":
        s.macs = sanitizeMacs(msg.macs);
        if (s.datapath === "fastdp" || s.datapath === "probing") this.requestReconcile();
        break;
      case "hb-ack":
        if (s.probe?.pending.delete(String(msg.nonce))) {
          s.probe.lastAck = Date.now();
          if (s.probe.localOk !== true) {
            s.probe.localOk = true;
            if (!isDecider(this.opts.name, name)) {
              this.#send(name, { type: "probe-result", ok: true });
            }
            this.#decide(s);
          }
        }
        break;
      case "probe-result":
        if (s.probe && isDecider(this.opts.name, name)) {
          s.probe.remoteOk = !!msg.ok;
          this.#decide(s, msg.ok ? false : true);
        }
        break;
      case "datapath":
        if (
          !isDecider(this.opts.name, name) && (s.datapath === "probing" || s.datapath === "fastdp")
        ) {
          const dp = msg.datapath === "fastdp" ? "fastdp" : "sleeve";
          this.#setDatapath(s, dp, String(msg.reason ?? ""));
        }
        break;
    }
  }

  /** The decider settles a probing pair as soon as the outcome is known. */
  #decide(s: PeerState, force = false): void {
    if (!s.probe || !isDecider(this.opts.name, s.peer.name)) return;
    if (s.datapath !== "probing" && !force) return;
    const timedOut = Date.now() - s.probe.started > PROBE_TIMEOUT_MS;
    const d = pairProbeDecision(
      s.probe.localOk,
      s.probe.remoteOk,
      timedOut,
      s.peer.name,
      PROBE_TIMEOUT_MS,
    );
    if (!d || d.datapath === s.datapath) return;
    this.#send(s.peer.name, {
      type: "datapath",
      datapath: d.datapath === "fastdp" ? "fastdp" : "sleeve",
      reason: d.reason,
    });
    this.#setDatapath(s, d.datapath, d.reason);
  }

  #setDatapath(s: PeerState, datapath: PairDatapath, reason: string): void {
    const before = s.datapath;
    s.datapath = datapath;
    s.reason = reason;
    if (datapath === "probing") {
      s.probe = {
        started: Date.now(),
        localOk: null,
        remoteOk: null,
        pending: new Set(),
        lastAck: 0,
      };
    } else if (datapath === "sleeve") {
      s.probe = null;
    } else if (datapath === "fastdp" && s.probe) {
      s.probe.lastAck = Date.now();
    }
    if (before !== datapath) {
      const level = datapath === "sleeve" && before === "fastdp" ? "warn" : "info";
      this.log.log(level, `datapath ${datapath}`, { peer: s.peer.name, why: reason });
    }
    this.#pushSleevePeer(s);
    const fastBefore = before === "fastdp" || before === "probing";
    const fastNow = datapath === "fastdp" || datapath === "probing";
    if (fastBefore !== fastNow) {
      this.requestReconcile().then(() => this.#flushLearned(s));
    }
  }

  /** After a pair changes datapath, MACs the bridges learned on the old port would blackhole. */
  async #flushLearned(s: PeerState): Promise<void> {
    for (const n of this.#sharedNetworks(s.peer.name)) {
      await runCommand("ip", [
        "link",
        "set",
        "dev",
        bridgeName(n.name),
        "type",
        "bridge",
        "fdb_flush",
      ]);
    }
  }

  #pushSleevePeer(s: PeerState): void {
    if (!this.#sleeve) return;
    const networks = this.#sharedNetworks(s.peer.name).map((n) => n.vni);
    this.#sleeve.upsertPeer({
      name: s.peer.name,
      address: s.peer.address,
      port: s.peer.port,
      networks,
      session: s.secrets && s.remote
        ? {
          sessionKey: s.secrets.sessionKey,
          dialerNonce: s.secrets.dialerNonce,
          listenerNonce: s.secrets.listenerNonce,
          localIsDialer: s.secrets.localIsDialer,
          localIndex: s.localIndex,
          remoteIndex: s.remote.sleeveIndex,
          aead: s.remote.aead === "chacha20-poly1305" ||
              this.#sleeve.preferredAead === "chacha20-poly1305"
            ? "chacha20-poly1305"
            : "aes-256-gcm",
        }
        : null,
      active: s.datapath === "sleeve" && s.secrets !== null && s.remote !== null,
    });
  }

  #onHeartbeat(from: string, nonce: string): void {
    for (const n of this.#myNetworks()) {
      const m = n.members.find((m) => m.address === from && m.peer !== this.opts.name);
      if (!m) continue;
      const s = this.#peers.get(m.peer);
      if (s?.secrets) this.#send(m.peer, { type: "hb-ack", nonce });
      return;
    }
  }

  /** Once a second: VXLAN heartbeats for probing and fast-datapath pairs, timeouts. */
  #tick(): void {
    const now = Date.now();
    this.#reportOversize();
    for (const s of this.#peers.values()) {
      if (!s.probe || !s.secrets) continue;
      if (s.datapath === "probing") {
        this.#sendProbes(s, Math.ceil(1000 / PROBE_INTERVAL_MS));
        if (now - s.probe.started > PROBE_TIMEOUT_MS) {
          if (s.probe.localOk === null) {
            s.probe.localOk = false;
            if (!isDecider(this.opts.name, s.peer.name)) {
              this.#send(s.peer.name, { type: "probe-result", ok: false });
            }
          }
          this.#decide(s);
        }
        if (
          s.probe && now - s.probe.started > 2 * PROBE_TIMEOUT_MS &&
          isDecider(this.opts.name, s.peer.name)
        ) {
          // The peer never reported: treat as failed rather than waiting forever.
          s.probe.remoteOk ??= false;
          this.#decide(s);
        }
      } else if (s.datapath === "fastdp" && s.probe) {
        if (now % FASTDP_HEARTBEAT_MS < 1000) this.#sendProbes(s, 1);
        if (now - s.probe.lastAck > FASTDP_DEAD_MS) {
          const reason = `heartbeat through VXLAN lost for ${FASTDP_DEAD_MS} ms`;
          if (isDecider(this.opts.name, s.peer.name)) {
            this.#send(s.peer.name, { type: "datapath", datapath: "sleeve", reason });
            this.#setDatapath(s, "sleeve", reason);
          } else if (s.probe.localOk !== false) {
            s.probe.localOk = false;
            this.#send(s.peer.name, { type: "probe-result", ok: false });
          }
        }
      }
    }
  }

  /** Frames dropped for exceeding the MTU are counted by the sleeve; say so, at most once a tick. */
  #reportOversize(): void {
    const c = this.#sleeve?.counters();
    if (!c) return;
    const total = c.global.oversize +
      Object.values(c.peers).reduce((a, p) => a + p.drops.oversize, 0);
    if (total > this.#oversizeReported) {
      this.log.warn(
        `${total - this.#oversizeReported} frame(s) larger than the overlay MTU (${this.#mtu()}) ` +
          "dropped by the sleeve; set the MTU of interfaces on the overlay bridges to at most this",
      );
      this.#oversizeReported = total;
    }
  }

  #sendProbes(s: PeerState, count: number): void {
    const [n] = this.#sharedNetworks(s.peer.name);
    if (!n || !this.#heartbeat || !s.probe) return;
    const from = this.#memberAddress(n)!;
    const to = this.#memberAddress(n, s.peer.name)!;
    for (let i = 0; i < count; i++) {
      setTimeout(async () => {
        const nonce = await this.#heartbeat?.send(from, to, s.peer.port);
        if (nonce && s.probe) {
          s.probe.pending.add(nonce);
          if (s.probe.pending.size > 64) {
            s.probe.pending.delete(s.probe.pending.values().next().value!);
          }
        }
      }, i * PROBE_INTERVAL_MS);
    }
  }

  // ---- status, control socket, metrics ----

  /** Everything `weave-agent status` shows. */
  status(): AgentStatus {
    const control = this.#control?.status() ?? { peers: {}, drops: {} };
    const sleeve = this.#sleeve?.counters() ?? { peers: {}, global: {} };
    const now = Date.now();
    return {
      peer: this.#self.name,
      address: `${this.#self.address}:${this.#self.port}`,
      pid: Deno.pid,
      config: {
        path: this.#config.path,
        loadedAt: this.#loadedAt.toISOString(),
        datapath: this.#config.datapath,
        encrypted: this.#password !== null,
        lastReload: this.#lastReload,
      },
      fastdp: this.#capability,
      sleeve: this.#sleeve
        ? { backend: this.#sleeve.backend, aead: this.#sleeve.preferredAead }
        : null,
      reconcile: this.#lastReconcile,
      controlDrops: (control as { drops?: unknown }).drops ?? {},
      sleeveDrops: sleeve.global,
      peers: [...this.#peers.values()].map((s) => {
        const c = (control.peers as Record<string, Record<string, unknown>>)[s.peer.name] ?? {};
        return {
          name: s.peer.name,
          address: `${s.peer.address}:${s.peer.port}`,
          state: String(c.state ?? (s.secrets ? "up" : "down")),
          datapath: s.datapath,
          reason: s.reason,
          encrypted: s.secrets?.authenticated ?? false,
          crypto: s.datapath === "fastdp"
            ? (this.#password ? "kernel ESP rfc4106(gcm(aes))" : "none")
            : this.#password && this.#sleeve
            ? `${this.#sleeve.backend} ${s.remote?.aead ?? this.#sleeve.preferredAead}`
            : "none",
          handshakeAgeSeconds: s.sessionSince ? Math.round((now - s.sessionSince) / 1000) : null,
          sleeveIndex: s.secrets ? s.localIndex : null,
          rttMs: (c.rttMs as number | undefined) ?? null,
          lastError: (c.lastError as string | undefined) ?? null,
          control: c,
          sleeve: (sleeve.peers as Record<string, unknown>)[s.peer.name] ?? null,
        };
      }),
      workloads: this.#workloads,
      policy: policyStatus(resolvePolicies(this.#config), this.#policyCounters),
      networks: this.#myNetworks().map((n) => ({
        name: n.name,
        subnet: n.subnet,
        vni: n.vni,
        mtu: this.#mtu(),
        address: this.#memberAddress(n)!,
        bridge: bridgeName(n.name),
        members: n.members.map((m) => ({ peer: m.peer, address: m.address })),
      })),
    };
  }

  async #handleControl(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case "status":
        this.#policyCounters = await readPolicyCounters();
        return this.status();
      case "plan": {
        const changes = (await planNow(this.desiredHost())).changes;
        return { changes: changes.length, text: renderPlan(changes, { showKeys: !!req.showKeys }) };
      }
      case "reload":
        return await this.reload("control socket");
      case "shutdown":
        setTimeout(() => this.stop("shutdown requested on the control socket"), 10);
        return { stopping: true };
      default:
        throw new Error(`unknown command ${JSON.stringify((req as { cmd: unknown }).cmd)}`);
    }
  }

  #startMetrics(): void {
    const m = this.#config.metrics;
    this.#metrics?.close();
    this.#metrics = null;
    if (!m) return;
    try {
      this.#metrics = new MetricsServer(m.host, m.port, () => renderMetrics(this.status()));
      this.log.info("metrics endpoint", { url: `http://${m.host}:${m.port}/metrics` });
    } catch (e) {
      this.log.error("cannot serve metrics", { endpoint: `${m.host}:${m.port}`, error: `${e}` });
    }
  }

  // ---- reload ----

  #watchConfig(): void {
    const path = this.opts.configPath;
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    try {
      this.#watcher = Deno.watchFs(dir, { recursive: false });
    } catch (e) {
      this.log.warn("cannot watch the config folder; reload with SIGHUP", { error: `${e}` });
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      try {
        for await (const ev of this.#watcher!) {
          if (
            !ev.paths.some((p) =>
              p.endsWith(path.slice(path.lastIndexOf("/") + 1)) || this.#isPasswordFile(p)
            )
          ) {
            continue;
          }
          clearTimeout(timer);
          timer = setTimeout(() => this.reload("file change"), 300);
        }
      } catch { /* watcher closed */ }
    })();
  }

  #isPasswordFile(p: string): boolean {
    const pw = this.#config.password;
    return pw?.kind === "file" && p === pw.path;
  }

  /** Reloads the config; a bad one is reported and the one in force stays. */
  async reload(trigger: string): Promise<{ ok: boolean; message: string }> {
    const at = new Date().toISOString();
    let loaded: { config: Config; text: string };
    try {
      loaded = await this.#load();
    } catch (e) {
      const message = e instanceof Error ? e.message : `${e}`;
      this.log.error(`reload (${trigger}) refused; keeping the config in force`, {});
      for (const line of message.split("\n")) this.log.error(line);
      this.#lastReload = { at, ok: false, message };
      return { ok: false, message };
    }
    if (loaded.text === this.#configText) {
      this.#lastReload = { at, ok: true, message: "unchanged" };
      return this.#lastReload;
    }
    const next = loaded.config;
    const self = findSelf(next, this.opts.name);
    if (!self) {
      const message =
        `peer ${this.opts.name} is no longer in ${next.path}; keeping the config in force`;
      this.log.error(message);
      this.#lastReload = { at, ok: false, message };
      return { ok: false, message };
    }
    let password: Uint8Array | null;
    try {
      password = readPassword(next);
    } catch (e) {
      const message = `password: ${e instanceof Error ? e.message : e}`;
      this.#lastReload = { at, ok: false, message };
      return { ok: false, message };
    }
    const diff = diffConfigs(this.#config, next, this.opts.name, this.#password, password);
    const prev = this.#config;
    this.#config = next;
    this.#configText = loaded.text;
    this.#self = self;
    this.#loadedAt = new Date();
    if (diff.restartControl) {
      this.#password = password;
      this.#capability = localFastdpCapability(next.datapath, password !== null, this.#caps);
      this.#control?.close();
      this.#control = null;
      for (const s of this.#peers.values()) this.#onSessionDown(s.peer.name, "config reload");
      this.#peers.clear();
      if (diff.restartSleeve) {
        await this.#sleeve?.close();
        await this.requestReconcile();
        this.#sleeve = await Sleeve.start({
          listenAddress: self.address,
          port: self.port,
          networks: this.#sleeveNetworks(),
          logger: this.log.child("sleeve"),
          backend: this.#sleeveCrypto,
        });
      }
      this.#startControl();
    } else {
      if (diff.peersChanged) {
        for (const name of diff.removedPeers) {
          this.#sleeve?.removePeer(name);
          this.#peers.delete(name);
        }
        for (const p of this.#otherPeers()) this.#peerState(p);
        this.#control?.updatePeers(
          this.#otherPeers().map((p) => ({ name: p.name, address: p.address, port: p.port })),
        );
      }
      if (diff.networksChanged) {
        this.#sleeve?.setNetworks(this.#sleeveNetworks());
        for (const s of this.#peers.values()) this.#pushSleevePeer(s);
      }
    }
    if (diff.hostChanged && !diff.networksChanged && !diff.restartControl) {
      await this.requestReconcile();
    }
    if (diff.networksChanged || diff.restartControl) {
      await this.requestReconcile();
      this.#heartbeat?.setAddresses(this.#myNetworks().map((n) => this.#memberAddress(n)!));
      await this.#refreshLocalMacs();
    }
    if (diff.metricsChanged) this.#startMetrics();
    const message = diff.summary.length ? diff.summary.join("; ") : "no effective change";
    this.log.info(`config reloaded (${trigger})`, { changes: message });
    this.#lastReload = { at, ok: true, message };
    void prev;
    return this.#lastReload;
  }

  // ---- shutdown ----

  /** Stops serving. Kernel state stays (use `weave-agent down` to remove it). */
  async stop(reason: string): Promise<void> {
    if (this.#stopping) return this.#stopped.promise;
    this.#stopping = true;
    this.log.info("stopping", { reason });
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#workloadRetry);
    this.#watcher?.close();
    this.#metrics?.close();
    this.#heartbeat?.close();
    this.#control?.close();
    await this.#reconciling?.catch(() => {});
    await this.#sleeve?.close().catch(() => {});
    await this.#socket?.close();
    await Deno.remove(runPaths(this.opts.runDir, this.opts.name).pid).catch(() => {});
    this.#stopped.resolve();
  }
}

/** MAC lists from the network are data: keep only well-formed ones, bounded. */
function sanitizeMacs(input: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!input || typeof input !== "object") return out;
  for (const [vni, macs] of Object.entries(input as Record<string, unknown>).slice(0, 256)) {
    if (!/^\d{1,8}$/.test(vni) || !Array.isArray(macs)) continue;
    out[vni] = macs.filter((m): m is string =>
      typeof m === "string" && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)
    ).slice(0, 64);
  }
  return out;
}

/** The shape of `weave-agent status --json`. */
export interface AgentStatus {
  peer: string;
  address: string;
  pid: number;
  config: {
    path: string;
    loadedAt: string;
    datapath: string;
    encrypted: boolean;
    lastReload: { at: string; ok: boolean; message: string } | null;
  };
  fastdp: FastdpCapability;
  sleeve: { backend: string; aead: string } | null;
  reconcile: { at: string; changes: number; error?: string } | null;
  controlDrops: unknown;
  sleeveDrops: unknown;
  peers: {
    name: string;
    address: string;
    state: string;
    datapath: PairDatapath;
    reason: string;
    encrypted: boolean;
    crypto: string;
    handshakeAgeSeconds: number | null;
    /** The receiver index this box gave the peer's sleeve session (null without a session). */
    sleeveIndex: number | null;
    rttMs: number | null;
    lastError: string | null;
    control: unknown;
    sleeve: unknown;
  }[];
  /** This box's workloads: plumbed, or the error for that workload alone. */
  workloads: WorkloadState[];
  /** Every policy this box enforces, with its rule counters. */
  policy: PolicyStatus;
  networks: {
    name: string;
    subnet: string;
    vni: number;
    mtu: number;
    address: string;
    bridge: string;
    members: { peer: string; address: string }[];
  }[];
}
