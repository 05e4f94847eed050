/**
 * The worker's peers: by slot (the counters' index), by underlay address (who sent a datagram),
 * and by learned MAC per network (who owns a destination). Each peer's sessions (keys, send
 * sequence, replay window) are in sessions.ts. Updates come from the main thread; lookups run
 * per packet and allocate nothing.
 *
 * @module
 */

import { type AeadBackend, createAead } from "../aead.ts";
import { sockaddr, sockaddrKey } from "../sys/udp.ts";
import type { WorkerPeer } from "./messages.ts";
import { type AeadFactory, PeerSessions, RetiredKeys } from "./sessions.ts";
import { MAX_MACS_PER_NETWORK } from "./constants.ts";
import { RELAY_HEADER_BYTES, writeRelayHeader } from "../wire.ts";

/** A peer with what the packet path keeps for it. */
export interface PeerRuntime {
  p: WorkerPeer;
  members: Set<number>;
  /** Where its datagrams go (its underlay address, or its relay's), encoded once. */
  sa: Uint8Array;
  /** The key of its own underlay address: datagrams from there are its (not `sa` when relayed). */
  key: string;
  /** The relay header sent in front of each datagram when relayed (#16), else null. */
  relayHeader: Uint8Array | null;
  /** Bytes in front of each sealed datagram: the relay header's, or 0. */
  prefix: number;
  /** The sessions datagrams are accepted under, and the one sent under. */
  sessions: PeerSessions;
  /** The source MAC last learned from this peer (per VNI), so learning costs nothing per packet. */
  learned: Map<number, number>;
}

/** A MAC address as one number (48 bits fit a double exactly). */
export function mac48(b: Uint8Array, off: number): number {
  return (b[off] * 0x10000000000) + (b[off + 1] * 0x100000000) + ((b[off + 2] << 24) >>> 0) +
    (b[off + 3] << 16) + (b[off + 4] << 8) + b[off + 5];
}

export class PeerTable {
  readonly bySlot = new Map<number, PeerRuntime>();
  readonly #byAddress = new Map<string, PeerRuntime>();
  /** By fleet-wide relay id: who a relayed datagram is from, or for (#16). */
  readonly #byId = new Map<number, PeerRuntime>();
  /** This box's relay id (#16). */
  selfId = 0;
  /** Learned MACs per VNI -> peer slot. */
  readonly #macs = new Map<number, Map<number, number>>();
  readonly #retired = new RetiredKeys();
  readonly #makeAead: AeadFactory;

  constructor(backend: AeadBackend) {
    this.#makeAead = (ws) => ({
      tx: createAead(ws.aead, ws.tx, backend),
      rx: createAead(ws.aead, ws.rx, backend),
    });
  }

  /** The peer whose underlay address is the sockaddr `sa` (as a receive wrote it). */
  fromAddress(sa: Uint8Array): PeerRuntime | undefined {
    return this.#byAddress.get(sockaddrKey(sa));
  }

  /** The peer with relay id `id` (#16). */
  fromId(id: number): PeerRuntime | undefined {
    return this.#byId.get(id);
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

  /** The peer in `slot`; an error naming the slot when there is none. */
  get(slot: number): PeerRuntime {
    const rt = this.bySlot.get(slot);
    if (!rt) throw new Error(`no peer in slot ${slot}`);
    return rt;
  }

  /**
   * Adds or updates a peer. Its sessions carry over: `p.session` is installed if new (the same
   * keys keep their sequence numbers) and sent under; the previous one stays accepted. A null
   * session retires them all. On an error (keys refused) nothing changes.
   */
  upsert(p: WorkerPeer): void {
    const old = this.bySlot.get(p.slot);
    const sessions = old?.sessions ?? new PeerSessions(this.#retired, this.#makeAead);
    if (p.session) sessions.use(sessions.install(p.session).localIndex);
    else sessions.retireAll();
    if (old) this.#unindex(old);
    const own = sockaddr(p.address, p.port);
    const rt: PeerRuntime = {
      p,
      members: new Set(p.networks),
      sa: p.via ? sockaddr(p.via.address, p.via.port) : own,
      key: sockaddrKey(own),
      relayHeader: p.via ? this.#relayHeader(p.relayId) : null,
      prefix: p.via ? RELAY_HEADER_BYTES : 0,
      sessions,
      learned: old?.learned ?? new Map(),
    };
    this.bySlot.set(p.slot, rt);
    this.#byAddress.set(rt.key, rt);
    this.#byId.set(p.relayId, rt);
  }

  /** This box's relay id changed: the relay headers of relayed peers name it as the source. */
  setSelfId(id: number): void {
    this.selfId = id >>> 0;
    for (const rt of this.bySlot.values()) {
      if (rt.relayHeader) rt.relayHeader = this.#relayHeader(rt.p.relayId);
    }
  }

  #relayHeader(dst: number): Uint8Array {
    const h = new Uint8Array(RELAY_HEADER_BYTES);
    writeRelayHeader(h, dst, this.selfId);
    return h;
  }

  #unindex(rt: PeerRuntime): void {
    if (this.#byAddress.get(rt.key) === rt) this.#byAddress.delete(rt.key);
    if (this.#byId.get(rt.p.relayId) === rt) this.#byId.delete(rt.p.relayId);
  }

  /** Forgets a peer, its sessions and every MAC learned behind it. */
  remove(slot: number): void {
    const old = this.bySlot.get(slot);
    if (!old) return;
    old.sessions.retireAll();
    this.bySlot.delete(slot);
    this.#unindex(old);
    for (const m of this.#macs.values()) for (const [k, s] of m) if (s === slot) m.delete(k);
  }
}
