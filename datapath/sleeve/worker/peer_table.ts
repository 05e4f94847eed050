/**
 * The worker's peers: by slot (the counters' index), by underlay address (who sent a datagram),
 * and by learned MAC per network (who owns a destination). Updates come from the main thread;
 * lookups run per packet and allocate nothing.
 *
 * @module
 */

import { type Aead, type AeadBackend, createAead } from "../aead.ts";
import { ReplayWindow } from "../replay_window.ts";
import { sockaddr, sockaddrKey } from "../sys/udp.ts";
import type { WorkerPeer } from "./messages.ts";
import { MAX_MACS_PER_NETWORK } from "./constants.ts";

/** A peer with what the packet path keeps for it. */
export interface PeerRuntime {
  p: WorkerPeer;
  members: Set<number>;
  /** Its underlay socket address, encoded once. */
  sa: Uint8Array;
  /** Seals what we send, and opens what the peer sends: one key per direction. */
  txAead: Aead | null;
  rxAead: Aead | null;
  sessionIndex: number;
  txSeq: number;
  /** The source MAC last learned from this peer (per VNI), so learning costs nothing per packet. */
  learned: Map<number, number>;
  window: ReplayWindow;
}

/** A MAC address as one number (48 bits fit a double exactly). */
export function mac48(b: Uint8Array, off: number): number {
  return (b[off] * 0x10000000000) + (b[off + 1] * 0x100000000) + ((b[off + 2] << 24) >>> 0) +
    (b[off + 3] << 16) + (b[off + 4] << 8) + b[off + 5];
}

export class PeerTable {
  readonly bySlot = new Map<number, PeerRuntime>();
  readonly #byAddress = new Map<string, PeerRuntime>();
  /** Learned MACs per VNI -> peer slot. */
  readonly #macs = new Map<number, Map<number, number>>();

  constructor(private readonly backend: AeadBackend) {}

  /** The peer whose underlay address is the sockaddr `sa` (as a receive wrote it). */
  fromAddress(sa: Uint8Array): PeerRuntime | undefined {
    return this.#byAddress.get(sockaddrKey(sa));
  }

  /** The peer where `mac` was last seen as a source on network `vni`. */
  owner(vni: number, mac: number): PeerRuntime | undefined {
    const slot = this.#macs.get(vni)?.get(mac);
    return slot === undefined ? undefined : this.bySlot.get(slot);
  }

  /** Records that `mac` lives behind `rt` on `vni`. */
  learn(rt: PeerRuntime, vni: number, mac: number): void {
    if (rt.learned.get(vni) === mac) return;
    rt.learned.set(vni, mac);
    let m = this.#macs.get(vni);
    if (!m) this.#macs.set(vni, m = new Map());
    m.set(mac, rt.p.slot);
    if (m.size > MAX_MACS_PER_NETWORK) m.delete(m.keys().next().value!);
  }

  /** Adds or replaces a peer; the same session (both indices) keeps its keys and counters. */
  upsert(p: WorkerPeer): void {
    const old = this.bySlot.get(p.slot);
    if (old) this.#byAddress.delete(sockaddrKey(old.sa));
    const sameSession = old && old.p.session && p.session &&
      old.sessionIndex === p.session.localIndex &&
      old.p.session.remoteIndex === p.session.remoteIndex;
    let txAead = sameSession ? old!.txAead : null;
    let rxAead = sameSession ? old!.rxAead : null;
    if (!sameSession) {
      old?.txAead?.free();
      old?.rxAead?.free();
      if (p.session) {
        txAead = createAead(p.session.aead, p.session.tx, this.backend);
        rxAead = createAead(p.session.aead, p.session.rx, this.backend);
      }
    }
    const rt: PeerRuntime = {
      p,
      members: new Set(p.networks),
      sa: sockaddr(p.address, p.port),
      txAead,
      rxAead,
      sessionIndex: p.session?.localIndex ?? 0,
      txSeq: sameSession ? old!.txSeq : 0,
      learned: sameSession ? old!.learned : new Map(),
      window: sameSession ? old!.window : new ReplayWindow(),
    };
    this.bySlot.set(p.slot, rt);
    this.#byAddress.set(sockaddrKey(rt.sa), rt);
  }

  /** Forgets a peer, its keys and every MAC learned behind it. */
  remove(slot: number): void {
    const old = this.bySlot.get(slot);
    if (!old) return;
    old.txAead?.free();
    old.rxAead?.free();
    this.bySlot.delete(slot);
    this.#byAddress.delete(sockaddrKey(old.sa));
    for (const m of this.#macs.values()) for (const [k, s] of m) if (s === slot) m.delete(k);
  }
}
