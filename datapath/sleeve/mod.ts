/**
 * The sleeve: the datapath that always works. Ethernet frames from each network's TAP are
 * sealed (AES-256-GCM or ChaCha20-Poly1305, per-direction keys from the session) into UDP
 * datagrams to the peers that are members of that network; datagrams from peers are
 * authenticated, replay-checked and written into the TAP of their network only.
 *
 * The main thread owns the file descriptors and the peer table; one Worker runs the packet loop
 * for both directions (worker.ts); counters live in a SharedArrayBuffer.
 *
 * @module
 */

import type { Logger } from "../../agent/ops/log.ts";
import { libc, normaliseV6, openTap, openUdp } from "./sys/libc.ts";
import { closeDoorbell, createDoorbell, type DoorbellHandle, ring } from "./doorbell.ts";
import { type AeadBackend, type AeadName, cpuHasAes, libcrypto } from "./aead.ts";
import { deriveSleeveKeys, type SleevePeerKeys } from "./keys.ts";
import {
  type GlobalCounters,
  MAX_PEERS,
  newCounters,
  type PeerCounters,
  readGlobal,
  readPeer,
} from "./counters.ts";
import type { WorkerMessage, WorkerNetwork, WorkerPeer } from "./worker.ts";

export { deriveSleeveKeys, type SleevePeerKeys } from "./keys.ts";
export type { GlobalCounters, PeerCounters } from "./counters.ts";
export { ReplayWindow, WINDOW as REPLAY_WINDOW } from "./replay_window.ts";

/** One network the sleeve carries. */
export interface SleeveNetwork {
  vni: number;
  name: string;
  /** The persistent TAP created by the reconciler. */
  tap: string;
  mtu: number;
}

/** One peer as the sleeve needs it. */
export interface SleevePeer {
  name: string;
  address: string;
  port: number;
  /** VNIs this peer and this box are both members of. */
  networks: number[];
  session:
    | (SleevePeerKeys & { localIndex: number; remoteIndex: number; aead: AeadName })
    | null;
  /** The pair uses the sleeve: send to this peer. (Received datagrams are accepted whenever a session exists.) */
  active: boolean;
}

/**
 * The sleeve's crypto backend as `WEAVE_SLEEVE_CRYPTO` asks (`auto`, the default: the system's
 * libcrypto where it loads, else @noble; `libcrypto`: that or fail; `noble`: the pure-JS path,
 * e.g. to rule libcrypto out while debugging). Anything else is an error naming the variable.
 */
export function sleeveCryptoFromEnv(
  value = Deno.env.get("WEAVE_SLEEVE_CRYPTO"),
): "auto" | AeadBackend {
  const v = (value ?? "").trim() || "auto";
  if (v === "auto" || v === "libcrypto" || v === "noble") return v;
  throw new Error(
    `WEAVE_SLEEVE_CRYPTO must be auto, libcrypto or noble, not ${JSON.stringify(value)}`,
  );
}

/** What this box can do for the sleeve. */
export function sleeveCapabilities(): { libcrypto: boolean; aesni: boolean; detail: string } {
  const lc = libcrypto() !== null;
  const aesni = cpuHasAes();
  return {
    libcrypto: lc,
    aesni,
    detail: lc
      ? `system libcrypto, ${
        aesni ? "AES-256-GCM (CPU has AES instructions)" : "ChaCha20-Poly1305 (no AES instructions)"
      }`
      : "libcrypto.so.3 not found: @noble/ciphers in JavaScript (much slower)",
  };
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
  #free: number[] = [];
  #nextSlot = 0;
  #closed = false;

  private constructor(
    udpFd: number,
    readonly backend: AeadBackend,
    readonly preferredAead: AeadName,
    private readonly log?: Logger,
  ) {
    this.#udpFd = udpFd;
    this.#counters = newCounters();
    this.#view = new Float64Array(this.#counters);
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    this.#worker.onerror = (e) => {
      e.preventDefault();
      log?.error(`sleeve packet worker failed: ${e.message}`);
    };
  }

  /** Binds the UDP port, attaches to the TAPs, starts the packet worker. */
  static start(opts: {
    listenAddress: string;
    port: number;
    networks: SleeveNetwork[];
    logger?: Logger;
    backend?: "auto" | AeadBackend;
  }): Promise<Sleeve> {
    const want = opts.backend ?? "auto";
    const backend: AeadBackend = want === "auto" ? (libcrypto() ? "libcrypto" : "noble") : want;
    if (backend === "libcrypto" && !libcrypto()) throw new Error("libcrypto.so.3 is not available");
    const aead: AeadName = cpuHasAes() ? "aes-256-gcm" : "chacha20-poly1305";
    const fd = openUdp(opts.listenAddress, opts.port);
    const s = new Sleeve(fd, backend, aead, opts.logger);
    s.#post({ type: "init", counters: s.#counters, udpFd: fd, backend, bell: s.#bell });
    s.setNetworks(opts.networks);
    return Promise.resolve(s);
  }

  #post(msg: WorkerMessage): void {
    this.#worker.postMessage(msg);
    ring(this.#bell);
  }

  /** Attaches to new networks' TAPs and lets go of removed ones. */
  setNetworks(networks: SleeveNetwork[]): void {
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
    this.#post({ type: "networks", networks: list });
    // Workers stop using a removed fd at their next loop turn; close it after that.
    if (stale.length) setTimeout(() => stale.forEach((fd) => libc.close(fd)), 500);
  }

  /** Adds or updates a peer (session keys, membership, whether the pair uses the sleeve). */
  upsertPeer(peer: SleevePeer): void {
    let slot = this.#slots.get(peer.name);
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#nextSlot++;
      if (slot >= MAX_PEERS) throw new Error(`the sleeve supports at most ${MAX_PEERS} peers`);
      this.#slots.set(peer.name, slot);
    }
    let session: WorkerPeer["session"] = null;
    if (peer.session) {
      const k = deriveSleeveKeys(peer.session);
      session = {
        localIndex: peer.session.localIndex,
        remoteIndex: peer.session.remoteIndex,
        tx: k.tx,
        rx: k.rx,
        txDirection: k.txDirection,
        aead: peer.session.aead,
      };
    }
    this.#post({
      type: "peer",
      peer: {
        slot,
        name: peer.name,
        address: peer.address.includes(":") ? normaliseV6(peer.address) : peer.address,
        port: peer.port,
        networks: peer.networks,
        active: peer.active,
        session,
      },
    });
  }

  removePeer(name: string): void {
    const slot = this.#slots.get(name);
    if (slot === undefined) return;
    this.#slots.delete(name);
    this.#post({ type: "remove", slot });
    // Fresh counters for whoever gets the slot next.
    this.#view.fill(0, slot * 16, slot * 16 + 16);
    this.#free.push(slot);
  }

  /** Per-peer and global counters, read from shared memory. */
  counters(): { peers: Record<string, PeerCounters>; global: GlobalCounters } {
    const peers: Record<string, PeerCounters> = {};
    for (const [name, slot] of this.#slots) peers[name] = readPeer(this.#view, slot);
    return { peers, global: readGlobal(this.#view) };
  }

  /** Stops the packet worker and closes every descriptor. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#post({ type: "stop" });
    await new Promise((r) => setTimeout(r, 100));
    this.#worker.terminate();
    closeDoorbell(this.#bell);
    for (const t of this.#taps.values()) libc.close(t.fd);
    libc.close(this.#udpFd);
  }
}
