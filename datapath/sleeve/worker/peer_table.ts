/**
 * The worker's peers: by slot (the counters' index), by underlay address (who sent a datagram),
 * by receiver index (whose session a datagram from an address no peer has names: roaming), and
 * by learned MAC per network (who owns a destination). Each peer's sessions (keys, send
 * sequence, replay window) are in sessions.ts. Updates come from the main thread; lookups run
 * per packet and allocate nothing.
 *
 * Learned endpoints (#15): a peer's UDP endpoint is where its last authenticated datagram came
 * from (rx.ts decides, {@link PeerTable.moveTo} records it), never an unauthenticated one. A
 * peer whose address is not known yet gets nothing sent to it until then.
 *
 * @module
 */

import { type AeadBackend, createAead } from "../aead.ts";
import { sockaddr, sockaddrCopy, sockaddrKey } from "../sys/udp.ts";
import type { WorkerPeer } from "./messages.ts";
import { type AeadFactory, PeerSessions, RetiredKeys } from "./sessions.ts";
import { MAX_MACS_PER_NETWORK } from "./constants.ts";
import { RELAY_HEADER_BYTES, writeRelayHeader } from "../wire.ts";

/** A peer with what the packet path keeps for it. */
export interface PeerRuntime {
  /**
   * The peer as the main thread gave it, except `active`: true only while the main thread wants
   * the pair on the sleeve ({@link PeerRuntime.wantsActive}) and an endpoint is known.
   */
  p: WorkerPeer;
  wantsActive: boolean;
  members: Set<number>;
  /** Its underlay socket address, encoded once; empty while unknown. */
  sa: Uint8Array;
  /**
   * Where its datagrams go instead while the pair is relayed (#16): the relay's address; null:
   * to `sa`. Datagrams from `sa` stay this peer's either way.
   */
  relaySa: Uint8Array | null;
  /** The relay header sent in front of each datagram while relayed (#16), else null. */
  relayHeader: Uint8Array | null;
  /** Bytes in front of each sealed datagram: the relay header's, or 0. */
  prefix: number;
  /** `sa` was learned from a datagram, not given by the main thread. */
  roamed: boolean;
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
  /** Local receiver index -> peer, over every receivable session (rebuilt on changes). */
  readonly #byIndex = new Map<number, PeerRuntime>();
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

  /** The peer one of whose receivable sessions has local receiver index `index`. */
  fromIndex(index: number): PeerRuntime | undefined {
    return this.#byIndex.get(index);
  }

  /**
   * Rebuilds the index of receiver indices: after any change of sessions (the main thread's
   * messages only, never per packet).
   */
  reindex(): void {
    this.#byIndex.clear();
    for (const rt of this.bySlot.values()) {
      for (const s of rt.sessions.receivable) this.#byIndex.set(s.localIndex, rt);
    }
  }

  /**
   * Makes `sa` (a receive's sockaddr) the peer's endpoint: what we send to from now on. Called
   * by rx.ts only for an authenticated datagram newer than any before it.
   */
  moveTo(rt: PeerRuntime, sa: Uint8Array): void {
    this.#unmap(rt);
    rt.sa = sockaddrCopy(sa);
    rt.roamed = true;
    rt.p = { ...rt.p, active: rt.wantsActive };
    const other = this.#byAddress.get(sockaddrKey(rt.sa));
    // Another peer was known at that address (it moved away, or shares a NAT's mapping that
    // was reused): datagrams from there are now this peer's; the other relearns by index.
    if (other && other !== rt) {
      other.sa = new Uint8Array(0);
      other.roamed = false;
      other.p = { ...other.p, active: other.relaySa !== null && other.wantsActive };
    }
    this.#byAddress.set(sockaddrKey(rt.sa), rt);
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
    if (old) this.#unmap(old);
    // A learned endpoint outlives updates that still give the address given before (the main
    // thread hears of the move after the fact); a new address from the main thread wins.
    const keep = old !== undefined && old.roamed && old.sa.length > 0 &&
      sameGiven(old.p, p);
    const sa = keep ? old.sa : p.address ? sockaddr(p.address, p.port) : new Uint8Array(0);
    const relaySa = p.via ? sockaddr(p.via.address, p.via.port) : null;
    const rt: PeerRuntime = {
      p: { ...p, active: p.active && (sa.length > 0 || relaySa !== null) },
      wantsActive: p.active,
      members: new Set(p.networks),
      sa,
      relaySa,
      relayHeader: p.via ? this.#relayHeader(p.relayId) : null,
      prefix: p.via ? RELAY_HEADER_BYTES : 0,
      roamed: keep,
      sessions,
      learned: old?.learned ?? new Map(),
    };
    this.bySlot.set(p.slot, rt);
    if (sa.length) this.#byAddress.set(sockaddrKey(sa), rt);
    if (old && this.#byId.get(old.p.relayId) === old) this.#byId.delete(old.p.relayId);
    this.#byId.set(p.relayId, rt);
    this.reindex();
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

  /** Drops the address entry of `rt`, if it is still `rt`'s. */
  #unmap(rt: PeerRuntime): void {
    if (!rt.sa.length) return;
    const key = sockaddrKey(rt.sa);
    if (this.#byAddress.get(key) === rt) this.#byAddress.delete(key);
  }

  /** Forgets a peer, its sessions and every MAC learned behind it. */
  remove(slot: number): void {
    const old = this.bySlot.get(slot);
    if (!old) return;
    old.sessions.retireAll();
    this.bySlot.delete(slot);
    this.#unmap(old);
    if (this.#byId.get(old.p.relayId) === old) this.#byId.delete(old.p.relayId);
    for (const m of this.#macs.values()) for (const [k, s] of m) if (s === slot) m.delete(k);
    this.reindex();
  }
}

/** The main thread gave the same address and port both times (or no address both times). */
function sameGiven(a: WorkerPeer, b: WorkerPeer): boolean {
  if (a.port !== b.port) return false;
  if (!a.address || !b.address) return !a.address && !b.address;
  return a.address.family === b.address.family && a.address.value === b.address.value;
}
