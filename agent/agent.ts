/**
 * The running agent's lifecycle: start, stop and reconcile. It owns the parts and sequences
 * them; what they do lives beside it: the config in force and its reload (reload.ts), the
 * per-pair datapath negotiation (pair_datapath.ts), the status (status.ts), the control-socket
 * dispatcher and the metrics server (ops/). It decides nothing a pure function can decide
 * (datapath_choice.ts, desired_host.ts, datapath/host/plan.ts).
 *
 * @module
 */

import type { Config, Network, Peer } from "../config/types.ts";
import { hasFixedAddress } from "../config/mod.ts";
import { bridgeName, tapName } from "../datapath/link_names.ts";
import { datapathCaps, type KernelDatapathCaps, probeKernel } from "../datapath/kernel_probe.ts";
import {
  type DesiredHost,
  observeLinks,
  type PolicyCounter,
  readPolicyCounters,
} from "../datapath/host/mod.ts";
import { runCommand } from "../datapath/command.ts";
import {
  type SessionLimits,
  Sleeve,
  sleeveCryptoFromEnv,
  type SleeveNetwork,
  sleeveRealtimeFromEnv,
  type SleeveSessionEvent,
} from "../datapath/sleeve/mod.ts";
import {
  everyOnGrid,
  type NodeKeyPair,
  PeerConnections,
  type PeerEndpoint,
  REKEY_DEFAULTS,
  type SessionKeysEvent,
} from "./control/mod.ts";
import { loadNodeKey } from "./node_key_file.ts";
import { sleeveLimitsFromEnv } from "./sleeve_limits.ts";
import { SessionEpochs } from "./session_epochs.ts";
import { deriveEspKeys } from "../datapath/fastdp/mod.ts";
import { relayPolicies, TopologyGossip, TopologyService } from "./topology/mod.ts";
import { RelayAgent, relayId } from "./relay/mod.ts";
import type { Logger } from "./ops/log.ts";
import { ControlSocketServer } from "./ops/control_socket.ts";
import { controlDispatcher } from "./ops/control_dispatch.ts";
import { runPaths } from "./ops/run_paths.ts";
import { MetricsServer, renderMetrics } from "./ops/metrics.ts";
import { type FastdpCapability, localFastdpCapability } from "./datapath_choice.ts";
import { bridgeMacs, buildDesiredHost, networksOf, overlayMtu } from "./desired_host.ts";
import { pairAead, sleevePeerOf } from "./sleeve_peer.ts";
import { listenAddressOf, PeerEndpoints } from "./peer_endpoints.ts";
import { planNow, planText, reconcileHost, type WorkloadState } from "./host_reconcile.ts";
import { resolvePolicies } from "./policy_resolve.ts";
import { policyStatus } from "./policy_status.ts";
import { VxlanHeartbeat } from "./vxlan_heartbeat.ts";
import { PairDatapaths, type PairState } from "./pair_datapath.ts";
import {
  configFiles,
  ConfigReloader,
  ConfigWatcher,
  type LoadedConfig,
  loadForPeer,
  type ReloadableAgent,
} from "./reload.ts";
import {
  type AgentStatus,
  buildStatus,
  configuredEndpoint,
  oversizeDrops,
  type ReconcileOutcome,
  type ReloadOutcome,
} from "./status.ts";
import { LoopLag } from "./loop_lag.ts";

export type { AgentStatus } from "./status.ts";

/** Options of `weave-agent up`. */
export interface AgentOptions {
  configPath: string;
  name: string;
  runDir: string;
  log: Logger;
  /** `--key-file`: this box's node key file, over weave.yaml's `key_file:` (#15). */
  keyFile?: string;
  /**
   * Wraps every reload (SIGHUP, a file change, the control socket), e.g. to tell systemd it
   * runs (agent/cli/up_systemd.ts); default: none.
   */
  aroundReload?: (run: () => Promise<ReloadOutcome>) => Promise<ReloadOutcome>;
}

/** Periodic reconcile: repairs kernel state someone else changed. */
export const RECONCILE_INTERVAL_MS = 30_000;
/** While a workload is not plumbed (its namespace missing), reconcile this often. */
export const WORKLOAD_RETRY_MS = 3_000;
/** How often policy rule counters are read for metrics (status requests read them afresh). */
export const POLICY_COUNTERS_MS = 5_000;
/** How often the sleeve's oversize drops are checked and reported. */
export const OVERSIZE_REPORT_MS = 1000;

/** The agent process. */
export class Agent {
  #loaded!: LoadedConfig;
  /** What the kernel can do; probed only once a config wants the fast datapath. */
  #caps: KernelDatapathCaps | null = null;
  #sleeveCrypto: ReturnType<typeof sleeveCryptoFromEnv> = "auto";
  /** Whether the sleeve's packet worker may run at realtime priority (`WEAVE_SLEEVE_REALTIME`). */
  #sleeveRealtime = true;
  /** Lower per-key packet limits for the sleeve (`WEAVE_SLEEVE_REKEY_AFTER_PACKETS`), or none. */
  #sleeveLimits: Partial<SessionLimits> | undefined;
  #capability!: FastdpCapability;
  #sleeve: Sleeve | null = null;
  #control: PeerConnections | null = null;
  #topology: TopologyService | null = null;
  /** Relayed sessions and hole punching (#16). */
  #relay: RelayAgent;
  /** This box's node key (read once at start); null: it proves none. */
  #nodeKey: NodeKeyPair | null = null;
  #heartbeat: VxlanHeartbeat | null = null;
  #socket: ControlSocketServer | null = null;
  #metrics: MetricsServer | null = null;
  #pairs: PairDatapaths;
  /** The sleeve sessions periodic rekeys made, per pair (#14). */
  #epochs = new SessionEpochs();
  #reloader: ConfigReloader;
  #watcher: ConfigWatcher;
  /** Stop functions of the periodic timers. */
  #timers: (() => void)[] = [];
  /** The config's peers by name (`#otherPeer`), rebuilt when another config is in force. */
  #peerIndex: { config: Config; byName: Map<string, Peer> } | null = null;
  #reconciling: Promise<void> | null = null;
  #reconcileAgain = false;
  #lastReconcile: ReconcileOutcome | null = null;
  /** Per-workload outcome of the last reconcile. */
  #workloads: WorkloadState[] = [];
  #workloadRetry: ReturnType<typeof setTimeout> | undefined;
  /** Policy rule counters as last read. */
  #policyCounters: PolicyCounter[] = [];
  #oversizeReported = 0;
  #stopping = false;
  #stopped: PromiseWithResolvers<void> = Promise.withResolvers();
  /** How late this process's timers run: handshakes and relays read it (loop_lag.ts). */
  readonly #lag = new LoopLag();
  #endpoints: PeerEndpoints;

  constructor(private readonly opts: AgentOptions) {
    this.#endpoints = new PeerEndpoints(opts.log.child("endpoints"));
    this.#pairs = new PairDatapaths({
      localName: opts.name,
      log: opts.log.child("datapath"),
      effects: {
        send: (peer, msg) => this.#control?.send(peer, msg) ?? false,
        heartbeat: (from, to, port) =>
          this.#heartbeat?.send(from, to, port) ?? Promise.resolve(null),
        sleeveChanged: (p) => this.#pushSleevePeer(p),
        hostChanged: (p, moved) => {
          const done = this.requestReconcile();
          if (moved) done.then(() => this.#flushLearned(p.peer.name));
        },
      },
    });
    this.#relay = new RelayAgent({
      self: opts.name,
      log: opts.log.child("relay"),
      sleeve: () => this.#sleeve,
      pushPeer: (name) => {
        const pair = this.#pairs.get(name);
        if (pair) this.#pushSleevePeer(pair);
      },
      endpointOf: (name) => {
        const peer = this.#otherPeer(name);
        return peer ? this.#endpoints.target(this.#loaded.self, peer, 0) : null;
      },
      loopLag: () => this.#lag.lagMs(),
    });
    this.#reloader = new ConfigReloader(opts.configPath, opts.name, this.#reloadable(), opts.log);
    this.#watcher = new ConfigWatcher(() => this.reload("file change"), opts.log);
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** Starts everything; resolves once the agent is serving. Throws on fatal start-up errors. */
  async start(): Promise<void> {
    const paths = runPaths(this.opts.runDir, this.opts.name);
    this.#lag.start();
    // Before anything touches the kernel: a bad value is a start-up error, not a half-built box.
    this.#sleeveCrypto = sleeveCryptoFromEnv();
    this.#sleeveRealtime = sleeveRealtimeFromEnv();
    this.#sleeveLimits = sleeveLimitsFromEnv();
    const loaded = await loadForPeer(this.opts.configPath, this.opts.name, this.log);
    if (!loaded.password) {
      this.log.warn(
        "NO ENCRYPTION: weave.yaml sets no password; peers are not authenticated and traffic " +
          "crosses the underlay in clear text",
      );
    }
    const nodeKey = await loadNodeKey(
      loaded.self.name,
      this.opts.keyFile ?? loaded.config.keyFile,
      loaded.self.key,
      (msg) => this.log.warn(msg),
    );
    this.#nodeKey = nodeKey.key;
    this.log.info(nodeKey.note);
    await this.#probeKernelFor(loaded);
    this.#putInForce(loaded);
    const { config, self } = loaded;
    if (config.datapath === "fastdp" && !this.#capability.capable) {
      throw new Error(
        `datapath: fastdp is configured but ${this.#capability.reason}; ` +
          "use datapath: auto to fall back to the sleeve, or fix the kernel (see weave-agent check)",
      );
    }
    if (!this.#capability.capable && config.datapath === "auto") {
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
    await this.#startSleeve();
    this.#heartbeat = new VxlanHeartbeat(
      self.port,
      (from, nonce) => this.#pairs.heartbeatFrom(from, nonce),
      this.log.child("heartbeat"),
    );
    await this.#refreshHost(false);
    this.#startSessions();
    this.#pairs.start();

    this.#socket = await ControlSocketServer.listen(
      paths.socket,
      controlDispatcher({
        status: async () => {
          await this.#readPolicyCounters();
          return this.status();
        },
        plan: async (showKeys) => {
          const plan = await planNow(this.desiredHost());
          return { changes: plan.changes.length, text: planText(plan, showKeys) };
        },
        reload: (trigger) => this.reload(trigger),
        shutdown: (reason) => void this.stop(reason),
      }),
      this.log.child("control-socket"),
    );
    await Deno.writeTextFile(paths.pid, `${Deno.pid}\n`, { mode: 0o600 }).catch(() => {});
    this.#restartMetrics();
    // The once-a-second report shares the wake-up of the other second timers (grid_timer.ts);
    // the slow ones stay spread out, so a lab's agents do not all spawn `ip` and `nft` at once.
    this.#timers.push(everyOnGrid(OVERSIZE_REPORT_MS, () => this.#reportOversize()));
    this.#timers.push(intervalTimer(RECONCILE_INTERVAL_MS, () => this.requestReconcile()));
    this.#timers.push(intervalTimer(POLICY_COUNTERS_MS, () => this.#readPolicyCounters()));
    this.#watcher.watch(configFiles(this.opts.configPath, config));
    this.log.info("agent up", {
      peer: self.name,
      address: configuredEndpoint(self),
      networks: this.#myNetworks().map((n) => n.name).join(","),
      peers: config.peers.length - 1,
    });
  }

  /** Resolves when the agent has stopped. */
  get stopped(): Promise<void> {
    return this.#stopped.promise;
  }

  /** Stops serving. Kernel state stays (use `weave-agent down` to remove it). */
  async stop(reason: string): Promise<void> {
    if (this.#stopping) return this.#stopped.promise;
    this.#stopping = true;
    this.log.info("stopping", { reason });
    this.#lag.stop();
    for (const stop of this.#timers) stop();
    clearTimeout(this.#workloadRetry);
    this.#pairs.stop();
    this.#relay.stop();
    this.#topology?.stop();
    this.#watcher.close();
    this.#metrics?.close();
    this.#heartbeat?.close();
    this.#control?.close();
    await this.#reconciling?.catch(() => {});
    await this.#sleeve?.close().catch(() => {});
    await this.#socket?.close();
    await Deno.remove(runPaths(this.opts.runDir, this.opts.name).pid).catch(() => {});
    this.#stopped.resolve();
  }

  /** Reloads the config; a bad one is refused and the one in force stays. */
  reload(trigger: string): Promise<ReloadOutcome> {
    const run = () => this.#reloader.reload(trigger);
    return this.opts.aroundReload ? this.opts.aroundReload(run) : run();
  }

  // ---- reconcile ----

  /** Desired kernel state from the config and the sessions. */
  desiredHost(): DesiredHost {
    return buildDesiredHost({
      config: this.#loaded.config,
      self: this.#loaded.self,
      encrypted: this.#loaded.password !== null,
      fastdpCapable: this.#capability.capable,
      fastPeers: this.#pairs.pairs().flatMap((p) =>
        (p.datapath === "fastdp" || p.datapath === "probing") && p.secrets
          ? [{
            peer: p.peer,
            secrets: p.secrets,
            macs: p.macs,
            esp: this.#epochs.esp(p.peer.name, () => deriveEspKeys(p.secrets!)),
          }]
          : []
      ),
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

  /** Observe, plan, apply. Errors are logged and shown in status; the next pass retries. */
  async reconcile(): Promise<void> {
    const at = new Date().toISOString();
    const configLoadedAt = this.#loaded.loadedAt.toISOString();
    try {
      const r = await reconcileHost(this.desiredHost(), { log: (l) => this.log.debug(l) });
      if (r.changes.length > 0) this.log.info("reconcile", { changes: r.changes.length });
      for (const w of r.workloads) {
        const was = this.#workloads.find((x) => x.name === w.name);
        if (w.state === "error" && was?.error !== w.error) {
          this.log.warn("workload not plumbed", { workload: w.name, error: w.error ?? "" });
        }
      }
      this.#workloads = r.workloads;
      this.#lastReconcile = r.problems.length
        ? { at, configLoadedAt, changes: r.changes.length, error: r.problems.join("; ") }
        : { at, configLoadedAt, changes: r.changes.length };
      for (const p of r.problems) this.log.error("reconcile", { problem: p });
      if (r.workloads.some((w) => w.state === "error")) this.#retryWorkloadsSoon();
    } catch (e) {
      const error = e instanceof Error ? e.message : `${e}`;
      this.#lastReconcile = { at, configLoadedAt, changes: 0, error };
      this.log.error("reconcile failed", { error: this.#lastReconcile.error });
    }
  }

  /** One reconcile in `WORKLOAD_RETRY_MS`, so a namespace that appears is plumbed soon. */
  #retryWorkloadsSoon(): void {
    if (this.#workloadRetry !== undefined || this.#stopping) return;
    this.#workloadRetry = setTimeout(() => {
      this.#workloadRetry = undefined;
      if (!this.#stopping) this.requestReconcile();
    }, WORKLOAD_RETRY_MS);
  }

  /** Reads the policy rule counters (nothing to read without a policy). */
  async #readPolicyCounters(): Promise<void> {
    this.#policyCounters = this.#loaded.config.policies.length ? await readPolicyCounters() : [];
  }

  /** After a pair changes datapath, MACs the bridges learned on the old port would blackhole. */
  async #flushLearned(peer: string): Promise<void> {
    for (const n of this.#sharedNetworks(peer)) {
      const br = bridgeName(n.name);
      const r = await runCommand("ip", ["link", "set", "dev", br, "type", "bridge", "fdb_flush"]);
      if (!r.ok) this.log.warn("cannot flush learned MACs", { bridge: br, error: r.stderr.trim() });
    }
  }

  // ---- status ----

  /** Everything `weave-agent status` shows. */
  status(): AgentStatus {
    const s = this.#sleeve;
    return buildStatus({
      now: Date.now(),
      pid: Deno.pid,
      config: this.#loaded.config,
      self: this.#loaded.self,
      loadedAt: this.#loaded.loadedAt,
      encrypted: this.#loaded.password !== null,
      lastReload: this.#reloader.last,
      capability: this.#capability,
      reconcile: this.#lastReconcile,
      sleeve: s
        ? {
          backend: s.backend,
          preferredAead: s.preferredAead,
          counters: s.counters(),
          priority: s.priority(),
        }
        : null,
      control: this.#control?.status() ?? null,
      topology: this.#topology?.view() ?? null,
      relay: this.#relay.view(),
      sleevePaths: (peer) => this.#relay.sleevePath(peer),
      pairs: this.#pairs.pairs(),
      networks: this.#myNetworks(),
      mtu: this.#mtu(),
      workloads: this.#workloads,
      policy: policyStatus(resolvePolicies(this.#loaded.config), this.#policyCounters),
      learned: this.#endpoints.view(),
    });
  }

  /** Frames dropped for exceeding the MTU are counted by the sleeve; say so, at most once a tick. */
  #reportOversize(): void {
    const c = this.#sleeve?.counters();
    if (!c) return;
    const total = oversizeDrops(c);
    if (total <= this.#oversizeReported) return;
    this.log.warn(
      `${total - this.#oversizeReported} frame(s) larger than the overlay MTU (${this.#mtu()}) ` +
        "dropped by the sleeve; set the MTU of interfaces on the overlay bridges to at most this",
    );
    this.#oversizeReported = total;
  }

  #restartMetrics(): void {
    const m = this.#loaded.config.metrics;
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

  // ---- the parts, as start and reload drive them ----

  /**
   * Probes the kernel the first time a config may use the fast datapath. `datapath: sleeve`
   * needs no probe, and skipping it spares a fleet's boxes its throwaway namespace and commands
   * at every start.
   */
  async #probeKernelFor(next: LoadedConfig): Promise<void> {
    if (next.config.datapath !== "sleeve" && this.#caps === null) {
      this.#caps = datapathCaps(await probeKernel());
    }
  }

  #putInForce(next: LoadedConfig): void {
    this.#loaded = next;
    this.#capability = localFastdpCapability(
      next.config.datapath,
      next.password !== null,
      this.#caps,
      next.self,
    );
    this.#configurePairs();
  }

  #configurePairs(): void {
    this.#pairs.configure({
      capability: this.#capability,
      networks: this.#myNetworks(),
      aead: this.#sleeve?.preferredAead ?? "aes-256-gcm",
    });
  }

  async #startSleeve(): Promise<void> {
    const self = this.#loaded.self;
    this.#sleeve = await Sleeve.start({
      listenAddress: listenAddressOf(self),
      port: self.port,
      networks: this.#sleeveNetworks(),
      logger: this.log.child("sleeve"),
      backend: this.#sleeveCrypto,
      realtime: this.#sleeveRealtime,
      onSessionEvent: (e) => this.#onSleeveSession(e),
      onEndpoint: (e) => {
        const peer = this.#otherPeer(e.peer);
        const pair = this.#pairs.get(e.peer);
        this.#relay.endpointLearned(e.peer);
        if (this.#endpoints.fromSleeve(peer, e) && pair) this.#pushSleevePeer(pair);
      },
    });
    this.#toSleeve(
      "relay",
      (s) => s.setRelay({ selfId: relayId(self.name), forward: self.relay !== false }),
    );
    this.#configurePairs();
    this.log.info("sleeve ready", {
      backend: this.#sleeve.backend,
      aead: this.#sleeve.preferredAead,
      port: self.port,
    });
  }

  #startSessions(): void {
    const { config } = this.#loaded;
    const control = new PeerConnections({
      localName: this.#loaded.self.name,
      listenAddress: listenAddressOf(this.#loaded.self),
      listenPort: this.#loaded.self.port,
      peers: this.#controlPeers(),
      dialOutOnly: this.#loaded.self.endpoint === null,
      password: this.#loaded.password,
      nodeKey: this.#nodeKey,
      previousPassword: this.#loaded.previousPassword,
      rekey: {
        rekeyAfterMs: config.rekeyAfterMs,
        rejectAfterMs: config.rejectAfterMs,
        // Old receive keys must be gone before the next rekey installs new ones.
        oldKeysGraceMs: Math.min(REKEY_DEFAULTS.oldKeysGraceMs, config.rekeyAfterMs / 2),
      },
      logger: this.log.child("control"),
      loopLag: () => this.#lag.lagMs(),
      onSessionUp: ({ peer, secrets, remoteAddress, via }) => {
        this.#relay.sessionUp(peer, via ?? null);
        const p = this.#otherPeer(peer);
        // A relayed session's stream says nothing about where the peer is (#16).
        if (p && !via) this.#endpoints.fromControl(p, remoteAddress);
        this.#epochs.sessionUp(peer, secrets);
        this.#pairs.sessionUp(peer, secrets, remoteAddress);
        this.#topology?.sessionUp(peer);
      },
      onSessionDown: ({ peer, reason }) => {
        this.#epochs.reset(peer);
        this.#pairs.sessionDown(peer, reason);
        this.#topology?.sessionChanged();
        this.#relay.sessionDown(peer);
      },
      onMessage: ({ peer, msg }) =>
        TopologyGossip.owns(msg)
          ? this.#topology?.receive(peer, msg)
          : this.#relay.owns(msg)
          ? this.#relay.receive(peer, msg)
          : this.#pairs.message(peer, msg),
      onSessionKeys: (e) => this.#onSessionKeys(e),
    });
    this.#pairs.setPeers(this.#otherPeers());
    this.#startTopology(control);
    control.start();
    this.#control = control;
  }

  /** Topology gossip over the sessions of `control` (agent/topology/). */
  #startTopology(control: PeerConnections): void {
    this.#topology?.stop();
    const log = this.log.child("topology");
    this.#topology = new TopologyService({
      self: this.opts.name,
      peers: this.#loaded.config.peers.map((p) => p.name),
      policy: relayPolicies(this.#loaded.config.peers),
      send: (peer, msg) => control.send(peer, msg),
      control: () => control.status(),
      sessions: () => control.sessionPeers(),
      onDrop: (from, reason, detail) =>
        log.debug("topology record dropped", { peer: from, reason, detail }),
      ...this.#relay.topologyHooks(),
    });
    this.#topology.start();
    this.#relay.start(control, this.#topology, this.#loaded.config.peers);
  }

  /** Reconciles, rebinds the heartbeat sockets, re-announces this box's bridge MACs. */
  async #refreshHost(reconcile = true): Promise<void> {
    if (reconcile) await this.requestReconcile();
    // A box without a fixed address never probes fast datapath (#15), and its sleeve listens
    // on every address of the port the heartbeats would take.
    const probes = hasFixedAddress(this.#loaded.self);
    this.#heartbeat?.setAddresses(
      probes ? this.#myNetworks().map((n) => memberAddress(n, this.opts.name)!) : [],
    );
    // Links alone (one `ip`): the reconcile just made the bridges, the MACs are all we need.
    this.#pairs.setLocalMacs(bridgeMacs({ links: await observeLinks() }, this.#myNetworks()));
  }

  #pushSleevePeer(p: Readonly<PairState>): void {
    const vnis = this.#sharedNetworks(p.peer.name).map((n) => n.vni);
    const rekeyed = this.#epochs.sending(p.peer.name);
    const self = this.#loaded.self;
    const target = this.#endpoints.target(self, p.peer, this.#loaded.config.natKeepaliveMs);
    const { keepaliveMs, ...relay } = this.#relay.sleeveFields(p.peer.name);
    if (keepaliveMs !== null) target.keepaliveMs = keepaliveMs;
    this.#toSleeve(`peer ${p.peer.name}`, (s) => {
      const peer = { ...sleevePeerOf(p, vnis, s.preferredAead, rekeyed, target), ...relay };
      if (peer.session) peer.session.limits = this.#sleeveLimits;
      return s.upsertPeer(peer);
    });
  }

  /**
   * A rekey step of the control plane, followed on the sleeve and, for a pair on the encrypted
   * fast datapath, by the ESP SAs (make-before-break). The promise of an install holds back the
   * next step until both accept the new keys.
   */
  #onSessionKeys(e: SessionKeysEvent): Promise<void> | void {
    const p = this.#pairs.get(e.peer);
    if (!p) return;
    const s = this.#sleeve;
    const aead = pairAead(p, s?.preferredAead ?? "aes-256-gcm");
    const step = this.#epochs.step(e, p.secrets, p.localIndex, aead);
    const esp = this.#loaded.password !== null && this.#capability.capable &&
      (p.datapath === "fastdp" || p.datapath === "probing");
    this.log.debug(`rekey ${e.action.type}`, {
      peer: e.peer,
      epoch: e.action.epoch,
      sleeve: step.type === "none" ? `none: ${step.why}` : step.type,
      esp,
    });
    // The SAs follow the epochs: a reconcile that starts after this step plans them.
    const sas = esp ? this.#reconcileAfterNow() : Promise.resolve();
    try {
      switch (step.type) {
        case "install": {
          const sleeve = s?.installSession(e.peer, { ...step.session, limits: this.#sleeveLimits });
          return Promise.all([sleeve, sas]).then(() => {});
        }
        case "use":
          return void s?.useSession(e.peer, step.localIndex).catch(() => {});
        case "retire":
          return void s?.retireSession(e.peer, step.localIndex).catch(() => {});
      }
    } catch (err) {
      this.log.error("sleeve rekey step failed", { peer: e.peer, error: `${err}` });
    }
  }

  /** A reconcile that starts after now (one under way planned from an older state). */
  async #reconcileAfterNow(): Promise<void> {
    const running = this.#reconciling;
    if (running) await running.catch(() => {});
    await this.requestReconcile();
  }

  /** A sleeve key reached its packet or byte limit: rekey the pair now rather than at its time. */
  #onSleeveSession(e: SleeveSessionEvent): void {
    const asked = this.#control?.requestRekey(e.peer) ?? false;
    this.log.log(e.kind === "exhausted" ? "warn" : "info", `sleeve key ${e.kind}: rekey`, {
      peer: e.peer,
      packets: e.packets,
      asked,
    });
  }

  /**
   * Hands the sleeve an update. Its worker may apply updates asynchronously: one that fails
   * (at once or later) is logged, never an unhandled error; the pair's next change retries.
   */
  #toSleeve(what: string, update: (s: Sleeve) => unknown): void {
    const s = this.#sleeve;
    if (!s) return;
    // While stopping, the sleeve closes under pending updates: expected, not an error.
    const failed = (e: unknown) =>
      this.#stopping
        ? this.log.debug(`sleeve update not applied (stopping): ${what}`, { error: `${e}` })
        : this.log.error(`sleeve update failed: ${what}`, { error: `${e}` });
    try {
      Promise.resolve(update(s)).catch(failed);
    } catch (e) {
      failed(e);
    }
  }

  /** The agent's parts as a reload restarts them (see reload.ts for the order). */
  #reloadable(): ReloadableAgent {
    return {
      current: () => this.#loaded,
      prepare: (next) => this.#probeKernelFor(next),
      putInForce: (next) => {
        this.#putInForce(next);
        // The password file may have moved: watch the files of the config now in force.
        this.#watcher.watch(configFiles(this.opts.configPath, next.config));
      },
      stopSessions: (reason) => {
        this.#control?.close();
        this.#control = null;
        this.#topology?.stop();
        this.#topology = null;
        this.#relay.stop();
        this.#epochs.clear();
        this.#pairs.reset(reason);
      },
      setPasswords: (current, previous) => this.#control?.setPasswords(current, previous),
      updatePeers: (removed) => {
        for (const name of removed) {
          this.#endpoints.forget(name);
          this.#epochs.reset(name);
          this.#toSleeve(`remove ${name}`, (s) => s.removePeer(name));
          this.#pairs.remove(name);
        }
        const others = this.#otherPeers();
        this.#pairs.setPeers(others);
        this.#control?.updatePeers(this.#controlPeers());
        const peers = this.#loaded.config.peers;
        this.#topology?.reconfigure(peers.map((p) => p.name), relayPolicies(peers));
        this.#relay.reconfigure(peers);
      },
      stopSleeve: async () => {
        await this.#sleeve?.close();
        this.#sleeve = null;
      },
      startSleeve: () => this.#startSleeve(),
      refreshHost: () => this.#refreshHost(),
      updateNetworks: () => {
        this.#toSleeve("networks", (s) => s.setNetworks(this.#sleeveNetworks()));
        for (const p of this.#pairs.pairs()) this.#pushSleevePeer(p);
      },
      startSessions: () => this.#startSessions(),
      restartMetrics: () => this.#restartMetrics(),
    };
  }

  // ---- facts from the config in force ----

  #myNetworks(): Network[] {
    return networksOf(this.#loaded.config, this.opts.name);
  }

  #sharedNetworks(peer: string): Network[] {
    return this.#myNetworks().filter((n) => n.members.some((m) => m.peer === peer));
  }

  #otherPeers(): Peer[] {
    return this.#loaded.config.peers.filter((p) => p.name !== this.opts.name);
  }

  /**
   * One other peer by name, from an index of the config in force. The topology asks for every
   * peer's endpoint at each session change: a scan of the peer list each time made that
   * O(peers²) per change (8.5 ms of a converging 50-agent lab's profile, 8× that at 100).
   */
  #otherPeer(name: string): Peer | undefined {
    const config = this.#loaded.config;
    if (this.#peerIndex?.config !== config) {
      this.#peerIndex = { config, byName: new Map(config.peers.map((p) => [p.name, p])) };
    }
    return name === this.opts.name ? undefined : this.#peerIndex.byName.get(name);
  }

  /** The other peers as the connection manager takes them (with their node keys, #15). */
  #controlPeers(): PeerEndpoint[] {
    return this.#otherPeers().map((p) => ({
      name: p.name,
      address: p.address,
      ...(p.endpoint?.kind === "dns" ? { host: p.endpoint.host } : {}),
      port: p.port,
      key: p.key,
    }));
  }

  #mtu(): number {
    return overlayMtu(this.#loaded.config, this.#loaded.password !== null);
  }

  #sleeveNetworks(): SleeveNetwork[] {
    if (this.#loaded.config.datapath === "fastdp") return [];
    return this.#myNetworks().map((n) => ({
      vni: n.vni,
      name: n.name,
      tap: tapName(n.name),
      mtu: this.#mtu(),
    }));
  }
}

/** A plain `setInterval`, as a stop function like {@link everyOnGrid}'s. */
function intervalTimer(ms: number, fn: () => void): () => void {
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}

function memberAddress(n: Network, peer: string): string | undefined {
  return n.members.find((m) => m.peer === peer)?.address;
}
