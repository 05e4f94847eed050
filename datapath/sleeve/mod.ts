/**
 * The sleeve: the datapath that always works. Ethernet frames from each network's TAP are
 * sealed (AES-256-GCM or ChaCha20-Poly1305, per-direction keys from the session) into UDP
 * datagrams to the peers that are members of that network; datagrams from peers are
 * authenticated, replay-checked and written into the TAP of their network only.
 *
 * The main thread owns the file descriptors and the peer table; one Worker runs the packet loop
 * for both directions (worker/loop.ts, with tx.ts and rx.ts walking each direction's steps);
 * counters live in a SharedArrayBuffer. Every change handed to the worker is acknowledged once
 * applied: the methods below resolve then, or reject naming what did not answer in time.
 *
 * Sessions, the interface the control plane drives (rekeying, issue #14):
 * - {@link Sleeve.upsertPeer} with `peer.session` installs that session if it is new and sends
 *   under it; the one sent under before stays accepted. `session: null` retires them all.
 * - Make-before-break: {@link Sleeve.installSession} on both ends (each accepts the new session
 *   as well), then {@link Sleeve.useSession} on each end once the other has installed it, then
 *   {@link Sleeve.retireSession} of the old one once its datagrams can no longer be in flight.
 *   During the switch datagrams under either session are accepted: nothing is lost.
 * - A session is its keys: the same keys again keep their send sequence and replay window, so
 *   no nonce is ever used twice under one key; keys once retired are refused; a peer has at
 *   most three sessions (previous, current, next).
 * - Limits per key (worker/constants.ts): {@link SleeveOptions.onSessionEvent} hears
 *   `rekey-due` past 2^48 packets (AES-GCM: or 2^37 + 2^36 bytes) and `exhausted` at 2^52
 *   packets (AES-GCM: 2^38 bytes, below RFC 8446's bound); from then on nothing is sealed under
 *   the key (counted as `txRefused`) until the sender moves to a new session.
 *
 * Endpoints (#15): a peer's UDP endpoint is where its last authenticated datagram, newer than
 * any before it, came from (roaming, a NAT's mapping); never an unauthenticated one. A peer
 * given without an address gets nothing sent until then. Each move is told once through
 * {@link SleeveOptions.onEndpoint}. Pairs marked with a `keepaliveMs` get a sealed keepalive
 * (wire type 3, no frame) after that long without sending (worker/keepalive.ts).
 *
 * Latency (issue #18): one worker turn moves at most TURN_BYTES per direction, so a packet never
 * waits behind more than that much of a bulk transfer the other way, and the receive buffer is
 * small (sys/udp.ts: it is the queue a transfer fills when the worker is the bottleneck). The
 * worker runs at realtime priority while it is not saturated (worker/realtime_budget.ts), so
 * that packets do not wait for the scheduler behind the box's busy processes;
 * {@link Sleeve.priority} says where it is and why (`WEAVE_SLEEVE_REALTIME=off`: never).
 *
 * Layout: wire.ts (the datagram format), virtio_net.ts (the TAP's frame header), aead.ts and
 * aead_libsodium.ts (the AEAD backends), keys.ts, endpoints.ts (learned endpoints as the main
 * thread keeps them), replay_window.ts, segment.ts and coalesce.ts (the offloads), offset_views.ts
 * and copy_bytes.ts (no garbage per packet), counters.ts, doorbell.ts; sys/ (libc through FFI,
 * opened on first use: tap, udp, poll, sched); worker/ (the packet loop: constants, messages,
 * peer table, tx, rx, keepalive, relay, realtime budget and priority, loop).
 *
 * May import: config/mod.ts (address parsing), datapath/ leaf modules (mtu.ts, logger.ts), and
 * @noble. Importing this module loads no native library: that happens in {@link Sleeve.start}
 * and {@link sleeveCapabilities}.
 *
 * @module
 */

import { formatHostPort, parseIp } from "../../config/mod.ts";
import { endpointText, LearnedEndpoints, type SleeveEndpointEvent } from "./endpoints.ts";
import type { Logger } from "../logger.ts";
import { closeFd } from "./sys/libc.ts";
import { REALTIME_MAX_SHARE, REALTIME_WINDOW_MS } from "./worker/realtime_budget.ts";
import { openTap } from "./sys/tap.ts";
import { openUdp } from "./sys/udp.ts";
import { closeDoorbell, createDoorbell, type DoorbellHandle, ring } from "./doorbell.ts";
import {
  AEAD_BACKENDS,
  type AeadBackend,
  aeadBackendHas,
  type AeadName,
  bestAeadBackend,
  cpuHasAes,
  preferredAead,
} from "./aead.ts";
import { deriveSleeveKeys, sessionFingerprint, type SleevePeerKeys } from "./keys.ts";
import {
  clearPeer,
  type GlobalCounters,
  MAX_PEERS,
  newCounters,
  type PeerCounters,
  readGlobal,
  readPeer,
} from "./counters.ts";
import type {
  SessionLimits,
  WorkerNetwork,
  WorkerPeer,
  WorkerReply,
  WorkerRequest,
  WorkerSession,
} from "./worker/messages.ts";

export { deriveSleeveKeys, type SleevePeerKeys } from "./keys.ts";
export type { GlobalCounters, PeerCounters } from "./counters.ts";
export type { Aead, AeadBackend, AeadName } from "./aead.ts";
/** The AEADs themselves, for the control channel's sealed messages (agent/control). */
export { bestAeadBackend, createAead, libcrypto, loadNobleAes, openLibcrypto } from "./aead.ts";
export { openLibsodium } from "./aead_libsodium.ts";
export type { SessionLimits } from "./worker/messages.ts";
export type { SleeveEndpointEvent } from "./endpoints.ts";
export { ReplayWindow, WINDOW as REPLAY_WINDOW } from "./replay_window.ts";

/**
 * The packet worker's entry module (`deno compile` must `--include` it: it is loaded by URL).
 */
export const SLEEVE_WORKER_MODULE: string = new URL("./worker/loop.ts", import.meta.url).href;

/**
 * The packet worker's scheduling policy: realtime (SCHED_FIFO at the lowest priority) while it
 * is busy less than its budget, the ordinary policy past it or where the kernel refuses.
 */
export interface SleevePriority {
  realtime: boolean;
  /** When it last changed (ISO 8601). */
  since: string;
  /** Why it is what it is, in words. */
  why: string;
  /** How often the worker left realtime for being over its budget: for traffic or a flood. */
  exits: number;
  /** How often of those a flood of refused datagrams drove it out. */
  floods: number;
}

/** One network the sleeve carries. */
export interface SleeveNetwork {
  vni: number;
  name: string;
  /** The persistent TAP created by the reconciler. */
  tap: string;
  mtu: number;
}

/**
 * A session's two sleeve keys as the control plane derived them (protocol v2 rekeys: the
 * per-purpose keys of `SessionKeySet`), and the direction number that goes into the nonce
 * (0: sent by the dialer, 1: sent by the listener).
 */
export interface SleeveDirectKeys {
  keys: { tx: Uint8Array; rx: Uint8Array; txDirection: 0 | 1 };
}

/**
 * One session with a peer, as the control plane hands it over: the secrets the sleeve derives
 * its two keys from (or the two keys themselves), the receiver indices, the AEAD.
 */
export type SleeveSession = (SleevePeerKeys | SleeveDirectKeys) & SleeveSessionParams;

/** What every {@link SleeveSession} carries besides its keys. */
export interface SleeveSessionParams {
  /** What the peer puts in the datagrams it sends us (unique per session on this box). */
  localIndex: number;
  /** What we put in the datagrams we send it. */
  remoteIndex: number;
  aead: AeadName;
  /** Lower limits for this session's keys (tests; defaults in worker/constants.ts). */
  limits?: Partial<SessionLimits>;
}

/** What the packet worker tells about a session (through {@link SleeveOptions.onSessionEvent}). */
export interface SleeveSessionEvent {
  peer: string;
  localIndex: number;
  /**
   * `rekey-due`: the key passed its soft limit (packets or, for AES-GCM, bytes): install a new
   * session soon. `exhausted`: it passed its hard limit: nothing is sent under it any more
   * (counted as `txRefused`) until the sender moves to a new session.
   */
  kind: "rekey-due" | "exhausted";
  packets: number;
  bytes: number;
}

/** One peer as the sleeve needs it. */
export interface SleevePeer {
  name: string;
  /**
   * Where to send: an IP address, or "" while unknown (a dial-out-only peer before the control
   * plane saw it): then nothing is sent until an authenticated datagram from it says where it is.
   * Either way a later authenticated datagram from elsewhere moves the endpoint (roaming).
   */
  address: string;
  port: number;
  /**
   * Keepalive period in ms when the pair's UDP path crosses a NAT (#15); 0 or absent: none.
   */
  keepaliveMs?: number;
  /** VNIs this peer and this box are both members of. */
  networks: number[];
  /**
   * The session to send under (see {@link Sleeve.upsertPeer}), or null: the peer has no session
   * (every session of it is retired).
   */
  session: SleeveSession | null;
  /** The pair uses the sleeve: send to this peer. (Received datagrams are accepted whenever a session exists.) */
  active: boolean;
  /** The peer's fleet-wide relay id (#16; default 0: none). */
  relayId?: number;
  /**
   * The relay the pair's datagrams go through (#16): each is sent to it behind a relay header
   * naming this peer; the relay forwards it without opening it. Null or absent: direct.
   */
  via?: { address: string; port: number } | null;
  /** This box may forward datagrams from and to this peer for others (#16; default false). */
  relayFor?: boolean;
}

/** What the sleeve does as a relay for others (#16; {@link Sleeve.setRelay}). */
export interface SleeveRelayOptions {
  /** This box's fleet-wide relay id, the source id of the relay headers it sends. */
  selfId: number;
  /** False (`relay: false`): forward nothing for others. */
  forward: boolean;
}

/** Options of {@link Sleeve.start}. */
export interface SleeveOptions {
  /** Own underlay address and UDP port to bind. */
  listenAddress: string;
  port: number;
  networks: SleeveNetwork[];
  /** Where failures of the packet worker are reported (none: not reported). */
  logger?: Logger;
  /**
   * Crypto backend; default `auto`: the fastest that has the AEAD here (libsodium, then
   * libcrypto, then @noble).
   */
  backend?: "auto" | AeadBackend;
  /**
   * How long the packet worker may take to say it is ready, and to acknowledge each change;
   * default {@link DEFAULT_ACK_TIMEOUT_MS}. Past it the call rejects naming what did not answer.
   */
  ackTimeoutMs?: number;
  /**
   * Told when a session's key reaches its rekey or hard limit (once each per session). Default:
   * a warning in the log.
   */
  onSessionEvent?: (e: SleeveSessionEvent) => void;
  /**
   * Told when a peer's endpoint moved: an authenticated datagram, newer than any before it, came
   * from another address (#15). Once per move. Default: an info line in the log.
   */
  onEndpoint?: (e: SleeveEndpointEvent) => void;
  /**
   * Whether the packet worker may run at realtime priority while it is not saturated
   * (worker/realtime_budget.ts); default true. False keeps it at the ordinary policy.
   */
  realtime?: boolean;
}

/**
 * Default for {@link SleeveOptions.ackTimeoutMs}: the worker answers within one turn of its
 * loop (microseconds); seconds leave room for a loaded 2-vCPU box and a cold module load.
 */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/**
 * Without `ackTimeoutMs`, the first "ready" may take this long: the worker loads and compiles
 * its module graph first, and when a whole fleet boots at once on a small box (50 agents on
 * 2 vCPUs, as after a power cut) that took over 10 s and the agent gave up starting.
 */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;

/**
 * The sleeve's crypto backend as `WEAVE_SLEEVE_CRYPTO` asks (`auto`, the default: the fastest
 * that loads here, libsodium, then libcrypto, then @noble; `libsodium` or `libcrypto`: that one
 * or fail; `noble`: the pure-JS path, e.g. to rule the system's libraries out while debugging).
 * Anything else is an error naming the variable.
 */
export function sleeveCryptoFromEnv(
  value = Deno.env.get("WEAVE_SLEEVE_CRYPTO"),
): "auto" | AeadBackend {
  const v = (value ?? "").trim() || "auto";
  if (v === "auto") return v;
  const backend = AEAD_BACKENDS.find((b) => b === v);
  if (backend) return backend;
  throw new Error(
    `WEAVE_SLEEVE_CRYPTO must be auto, ${AEAD_BACKENDS.join(", ")}, not ${JSON.stringify(value)}`,
  );
}

/**
 * {@link SleeveOptions.realtime} as `WEAVE_SLEEVE_REALTIME` asks: `on` (the default) or `off`
 * (the packet worker stays at the ordinary scheduling policy, e.g. on a box whose own realtime
 * work must never share a CPU with it). Anything else is an error naming the variable.
 */
export function sleeveRealtimeFromEnv(value = Deno.env.get("WEAVE_SLEEVE_REALTIME")): boolean {
  const v = (value ?? "").trim() || "on";
  if (v === "on" || v === "off") return v === "on";
  throw new Error(`WEAVE_SLEEVE_REALTIME must be on or off, not ${JSON.stringify(value)}`);
}

/** What this box can do for the sleeve: the AEAD it would choose, and on which backend. */
export function sleeveCapabilities(): {
  backend: AeadBackend;
  aead: AeadName;
  aesni: boolean;
  detail: string;
} {
  const aesni = cpuHasAes();
  const aead = preferredAead();
  const backend = bestAeadBackend(aead);
  const why = aesni ? "CPU has AES instructions" : "no AES instructions";
  return {
    backend,
    aead,
    aesni,
    detail: backend === "noble"
      ? "neither libsodium.so.23 nor libcrypto.so.3 loads: @noble/ciphers in JavaScript (much slower)"
      : `system ${backend}, ${aead} (${why})`,
  };
}

/**
 * `p`, then `after` (either way). The result rejects like `p`, and is marked handled: callers
 * that do not await are told through the log (see Sleeve.#expect), never by a crash.
 */
function settled(p: Promise<void>, after: () => void): Promise<void> {
  const q = p.finally(after);
  q.catch(() => {});
  return q;
}

/** The worker's view of a session: its two keys derived here, and their fingerprint. */
function workerSession(s: SleeveSession): WorkerSession {
  const k = "keys" in s
    ? { tx: s.keys.tx.slice(), rx: s.keys.rx.slice(), txDirection: s.keys.txDirection }
    : deriveSleeveKeys(s);
  return {
    fingerprint: sessionFingerprint(k.tx, k.rx),
    localIndex: s.localIndex,
    remoteIndex: s.remoteIndex,
    tx: k.tx,
    rx: k.rx,
    txDirection: k.txDirection,
    aead: s.aead,
    limits: s.limits,
  };
}

/** A request waiting for the worker's answer. */
interface Pending {
  what: string;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The running sleeve. */
export class Sleeve {
  #udpFd: number;
  #taps = new Map<number, { fd: number; net: SleeveNetwork }>();
  /** The packet worker, and the doorbell that wakes it for each message. */
  #worker: Worker;
  #bell: DoorbellHandle = createDoorbell();
  #counters: SharedArrayBuffer;
  #view: Float64Array;
  #slots = new Map<string, number>();
  #learned = new LearnedEndpoints();
  #free: number[] = [];
  #nextSlot = 0;
  #closed = false;
  #nextId = 1;
  /** Requests not yet acknowledged, by id (id 0: the worker's `ready` after `init`). */
  #pending = new Map<number, Pending>();
  #ackTimeoutMs: number;
  #failed: Error | null = null;
  #priority: SleevePriority;
  /** Whether a flood (not traffic) keeps the worker out of realtime now. */
  #inFlood = false;

  private constructor(
    udpFd: number,
    readonly backend: AeadBackend,
    readonly preferredAead: AeadName,
    ackTimeoutMs: number,
    private readonly log?: Logger,
    private readonly onSessionEvent?: (e: SleeveSessionEvent) => void,
    private readonly onEndpoint?: (e: SleeveEndpointEvent) => void,
    realtime = true,
  ) {
    this.#priority = {
      realtime,
      since: new Date().toISOString(),
      why: realtime
        ? `realtime while busy under ${Math.round(REALTIME_MAX_SHARE * 100)}% of each ` +
          `${REALTIME_WINDOW_MS} ms`
        : "WEAVE_SLEEVE_REALTIME=off",
      exits: 0,
      floods: 0,
    };
    this.#udpFd = udpFd;
    this.#ackTimeoutMs = ackTimeoutMs;
    this.#counters = newCounters();
    this.#view = new Float64Array(this.#counters);
    this.#worker = new Worker(SLEEVE_WORKER_MODULE, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<WorkerReply>) => this.#answered(e.data);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#failed = new Error(`sleeve packet worker failed: ${e.message}`);
      log?.error(this.#failed.message);
      for (const [id, p] of this.#pending) this.#settle(id, p, this.#failed);
    };
  }

  /**
   * Binds the UDP port, starts the packet worker and waits for it to say it is ready, then
   * attaches to the TAPs. Options: {@link SleeveOptions}.
   */
  static async start(opts: SleeveOptions): Promise<Sleeve> {
    const want = opts.backend ?? "auto";
    const aead = preferredAead();
    const backend: AeadBackend = want === "auto" ? bestAeadBackend(aead) : want;
    if (!aeadBackendHas(backend, aead)) {
      throw new Error(`sleeve: the ${backend} backend cannot run ${aead} on this box`);
    }
    const timeout = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    if (!(timeout > 0)) throw new Error(`sleeve: ackTimeoutMs must be > 0, not ${timeout}`);
    const listen = parseIp(opts.listenAddress);
    if (!listen) {
      throw new Error(`sleeve: listenAddress is not an IP address: ${opts.listenAddress}`);
    }
    let fd: number;
    try {
      fd = openUdp(listen, opts.port);
    } catch (e) {
      const at = formatHostPort(opts.listenAddress, opts.port);
      throw new Error(`${e instanceof Error ? e.message : e} (${at})`);
    }
    const realtime = opts.realtime ?? true;
    const s = new Sleeve(
      fd,
      backend,
      aead,
      timeout,
      opts.logger,
      opts.onSessionEvent,
      opts.onEndpoint,
      realtime,
    );
    try {
      const ready = s.#expect(0, "ready after init", opts.ackTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
      s.#post({
        type: "init",
        counters: s.#counters,
        udpFd: fd,
        backend,
        bell: s.#bell,
        realtime,
      });
      await ready;
      await s.setNetworks(opts.networks);
    } catch (e) {
      await s.close().catch(() => {});
      throw e;
    }
    return s;
  }

  #post(msg: WorkerRequest): void {
    this.#worker.postMessage(msg);
    ring(this.#bell);
  }

  /** A promise for the worker's answer to request `id`, rejected after the ack timeout. */
  #expect(id: number, what: string, timeoutMs = this.#ackTimeoutMs): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const p = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const pending = this.#pending.get(id);
        if (!pending) return;
        this.#settle(
          id,
          pending,
          new Error(
            `sleeve packet worker did not acknowledge ${what} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, { what, resolve, reject, timer });
    });
    // Callers that do not await still see failures, in the log (and nothing is left unhandled);
    // changes cut short by close() are not failures: the sleeve is going away on purpose.
    p.catch((e) => {
      if (!this.#closed) this.log?.error(`${e instanceof Error ? e.message : e}`);
    });
    return p;
  }

  #settle(id: number, p: Pending, error?: Error | string): void {
    clearTimeout(p.timer);
    this.#pending.delete(id);
    if (typeof error === "string") p.reject(new Error(`sleeve: ${p.what}: ${error}`));
    else if (error) p.reject(error);
    else p.resolve();
  }

  #answered(r: WorkerReply): void {
    if (r.type === "endpoint") return this.#endpointMoved(r);
    if (r.type === "priority") return this.#priorityChanged(r);
    if (r.type === "session") {
      const peer = [...this.#slots].find(([, slot]) => slot === r.slot)?.[0];
      if (peer === undefined) return;
      const e: SleeveSessionEvent = {
        peer,
        localIndex: r.localIndex,
        kind: r.event,
        packets: r.packets,
        bytes: r.bytes,
      };
      if (this.onSessionEvent) this.onSessionEvent(e);
      else {
        this.log?.warn(`sleeve: session ${e.localIndex} with ${peer}: ${e.kind}`, {
          packets: e.packets,
          bytes: e.bytes,
        });
      }
      return;
    }
    const id = r.type === "ready" ? 0 : r.id;
    const p = this.#pending.get(id);
    if (p) this.#settle(id, p, r.type === "ack" ? r.error : undefined);
  }

  #endpointMoved(r: Extract<WorkerReply, { type: "endpoint" }>): void {
    const peer = [...this.#slots].find(([, slot]) => slot === r.slot)?.[0];
    const e = peer === undefined ? null : this.#learned.moved(peer, r.address, r.port);
    if (!e) return;
    if (this.onEndpoint) this.onEndpoint(e);
    else this.log?.info(`sleeve: ${endpointText(e)}`);
  }

  #priorityChanged(r: Extract<WorkerReply, { type: "priority" }>): void {
    const pct = `${Math.round(r.share * 100)}%`;
    const exits = this.#priority.exits + (r.realtime || r.error ? 0 : 1);
    const floods = this.#priority.floods + (!r.realtime && !r.error && r.flood ? 1 : 0);
    this.#priority = {
      realtime: r.realtime,
      since: new Date().toISOString(),
      why: r.error
        ? `the kernel refused realtime: ${r.error}`
        : r.realtime
        ? `busy ${pct} of its last window: realtime again`
        : r.flood
        ? `busy ${pct} of ${REALTIME_WINDOW_MS} ms, mostly on refused datagrams (a flood): ` +
          `ordinary priority until the flood is over`
        : `busy ${pct} of ${REALTIME_WINDOW_MS} ms with traffic: ordinary priority for the ` +
          `rest of the window`,
      exits,
      floods,
    };
    const afterFlood = this.#inFlood;
    this.#inFlood = !r.realtime && r.flood;
    if (r.error) {
      this.log?.warn(
        `sleeve: the packet worker stays at the ordinary scheduling policy (${r.error}); ` +
          `without CAP_SYS_NICE or RLIMIT_RTPRIO packets wait for the scheduler behind busy ` +
          `processes`,
      );
    } else if (this.#inFlood && floods === 1) {
      this.log?.warn(`sleeve: packet worker left realtime priority: ${this.#priority.why}`);
    } else if (this.#inFlood || afterFlood) {
      this.log?.info(
        `sleeve: packet worker ${r.realtime ? "back at realtime" : "left realtime"} priority`,
        { busy: pct, floods },
      );
    }
    // Traffic it cannot keep up with flips it every window: counted (status, metrics), not logged.
  }

  /** The packet worker's scheduling policy (issue #18: worker/realtime_budget.ts). */
  priority(): SleevePriority {
    return this.#priority;
  }

  /** The endpoints learned from authenticated datagrams, by peer (#15). */
  learnedEndpoints(): Map<string, SleeveEndpointEvent> {
    return this.#learned.snapshot();
  }

  /** Posts a request and resolves when the worker has applied it. */
  #request(what: string, make: (id: number) => WorkerRequest): Promise<void> {
    const id = this.#nextId++;
    const acked = this.#expect(id, what);
    this.#post(make(id));
    return acked;
  }

  /**
   * Attaches to new networks' TAPs and lets go of removed ones; resolves once the worker polls
   * exactly the new set (the old descriptors are closed then).
   */
  setNetworks(networks: SleeveNetwork[]): Promise<void> {
    const keep = new Set(networks.map((n) => n.vni));
    const stale: number[] = [];
    for (const [vni, t] of this.#taps) {
      if (!keep.has(vni) || networks.find((n) => n.vni === vni)!.tap !== t.net.tap) {
        stale.push(t.fd);
        this.#taps.delete(vni);
      }
    }
    for (const n of networks) {
      const have = this.#taps.get(n.vni);
      if (have) {
        have.net = n;
        continue;
      }
      try {
        this.#taps.set(n.vni, { fd: openTap(n.tap), net: n });
      } catch (e) {
        this.log?.error(`sleeve: cannot attach to ${n.tap}`, { error: `${e}` });
      }
    }
    const list: WorkerNetwork[] = [...this.#taps.entries()].map(([vni, t]) => ({
      vni,
      fd: t.fd,
      mtu: t.net.mtu,
    }));
    const acked = this.#request(
      `networks [${list.map((n) => n.vni).join(", ")}]`,
      (id) => ({ type: "networks", id, networks: list }),
    );
    // The worker polls the new set from its next turn on: only then may the old fds close.
    return settled(acked, () => stale.forEach(closeFd));
  }

  /**
   * Adds or updates a peer (membership, whether the pair uses the sleeve, its session); resolves
   * once the worker uses it. `peer.session` is installed if new and sent under from now on; the
   * one sent under before stays accepted (datagrams in flight) until retired or pushed out by
   * newer ones; the same keys again keep their sequence numbers (never a nonce twice). A null
   * session retires every session of the peer. Throws at once for a bad address or a full peer
   * table; rejects if the worker refuses the keys (e.g. keys once retired).
   */
  upsertPeer(peer: SleevePeer): Promise<void> {
    const ip = peer.address === "" ? null : parseIp(peer.address);
    if (peer.address !== "" && !ip) {
      throw new Error(`sleeve: peer ${peer.name}: not an IP address: ${peer.address}`);
    }
    let slot = this.#slots.get(peer.name);
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#nextSlot++;
      if (slot >= MAX_PEERS) throw new Error(`the sleeve supports at most ${MAX_PEERS} peers`);
      this.#slots.set(peer.name, slot);
    }
    const via = peer.via ? parseIp(peer.via.address) : null;
    if (peer.via && !via) {
      throw new Error(`sleeve: peer ${peer.name}: relay is not an IP address: ${peer.via.address}`);
    }
    const session = peer.session ? workerSession(peer.session) : null;
    const worker: WorkerPeer = {
      slot,
      name: peer.name,
      address: ip,
      port: peer.port,
      networks: peer.networks,
      active: peer.active,
      relayId: (peer.relayId ?? 0) >>> 0,
      via: peer.via && via ? { address: via, port: peer.via.port } : null,
      relayFor: peer.relayFor ?? false,
      keepaliveMs: peer.keepaliveMs ?? 0,
      session,
    };
    return this.#request(`peer ${peer.name}`, (id) => ({ type: "peer", id, peer: worker }));
  }

  /**
   * This box's part as a relay (#16): its relay id (the source of the relay headers it sends)
   * and whether it forwards datagrams of other pairs. Resolves once the worker uses them.
   */
  setRelay(o: SleeveRelayOptions): Promise<void> {
    return this.#request(
      `relay ${o.forward ? "on" : "off"}`,
      (id) => ({ type: "relay", id, selfId: o.selfId >>> 0, forward: o.forward }),
    );
  }

  /**
   * One hole-punching probe to a relayed peer (#16): a keepalive of its sending session straight
   * to `address:port`, a candidate endpoint of it (where its datagrams go does not change; an
   * authentic datagram from there moves its endpoint, as any would). Resolves once sent.
   */
  punch(peer: string, address: string, port: number): Promise<void> {
    const slot = this.#slot(peer);
    const ip = parseIp(address);
    if (!ip) throw new Error(`sleeve: punch ${peer}: not an IP address: ${address}`);
    return this.#request(
      `punch of ${peer} at ${formatHostPort(address, port)}`,
      (id) => ({ type: "punch", id, slot, address: ip, port }),
    );
  }

  /**
   * Make-before-break, step 1: accept the peer's datagrams under a new session as well; the
   * sender does not move. Resolves once the worker accepts them. The peer must be known
   * ({@link upsertPeer}); at most three sessions per peer are accepted (the oldest that is not
   * sent under is retired).
   */
  installSession(peer: string, session: SleeveSession): Promise<void> {
    const slot = this.#slot(peer);
    const ws = workerSession(session);
    return this.#request(
      `session ${session.localIndex} with ${peer}`,
      (id) => ({ type: "install", id, slot, session: ws }),
    );
  }

  /**
   * Step 2, once the peer has installed the session too: send under it from now on. The
   * previous session stays accepted until {@link retireSession}.
   */
  useSession(peer: string, localIndex: number): Promise<void> {
    const slot = this.#slot(peer);
    return this.#request(
      `use of session ${localIndex} with ${peer}`,
      (id) => ({ type: "use", id, slot, localIndex }),
    );
  }

  /**
   * Step 3 (or a closed session): neither accept nor send under it any more; its keys are freed
   * and refused if they ever come back. Retiring the session sent under stops sending to the
   * peer until another is used.
   */
  retireSession(peer: string, localIndex: number): Promise<void> {
    const slot = this.#slot(peer);
    return this.#request(
      `retirement of session ${localIndex} with ${peer}`,
      (id) => ({ type: "retire", id, slot, localIndex }),
    );
  }

  #slot(peer: string): number {
    const slot = this.#slots.get(peer);
    if (slot === undefined) throw new Error(`sleeve: unknown peer ${peer}`);
    return slot;
  }

  /** Forgets a peer; resolves once the worker has dropped it. */
  removePeer(name: string): Promise<void> {
    const slot = this.#slots.get(name);
    if (slot === undefined) return Promise.resolve();
    this.#slots.delete(name);
    this.#learned.delete(name);
    const acked = this.#request(`removal of peer ${name}`, (id) => ({ type: "remove", id, slot }));
    return settled(acked, () => {
      // Fresh counters for whoever gets the slot next (the worker no longer writes it).
      clearPeer(this.#view, slot);
      this.#free.push(slot);
    });
  }

  /** Per-peer and global counters, read from shared memory. */
  counters(): { peers: Record<string, PeerCounters>; global: GlobalCounters } {
    const peers: Record<string, PeerCounters> = {};
    for (const [name, slot] of this.#slots) peers[name] = readPeer(this.#view, slot);
    return { peers, global: readGlobal(this.#view) };
  }

  /**
   * Stops the packet worker (waiting for it to leave its loop, up to the ack timeout) and closes
   * every descriptor.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#request("stop", (id) => ({ type: "stop", id }));
    } catch {
      // Already logged by #expect; the worker is terminated below either way.
    } finally {
      this.#worker.terminate();
      for (const [id, p] of this.#pending) {
        this.#settle(id, p, new Error(`sleeve closed before ${p.what} was acknowledged`));
      }
      closeDoorbell(this.#bell);
      for (const t of this.#taps.values()) closeFd(t.fd);
      closeFd(this.#udpFd);
    }
  }
}
