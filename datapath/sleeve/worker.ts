/**
 * The sleeve's packet loop, one Worker for both directions: it reads frames from the TAPs,
 * seals them and sends them to peers, and receives datagrams, authenticates them, checks replay
 * and membership, and writes frames into the right TAP. Everything is synchronous FFI in
 * batches; the event loop runs only when the doorbell says a message waits.
 *
 * One thread rather than one per direction: most packets cause a packet the other way soon
 * (an echo reply, a TCP ACK), and the thread that just wrote the request into the bridge finds
 * the answer already queued on the TAP, with its caches warm. Two threads paid a cold wake-up
 * (≈ 100–200 µs here, measured) for each of those, and the ACK direction's thread woke
 * thousands of times a second during a transfer.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { libc, POLLIN, sockaddr, sockaddrKey, UdpGroReceiver, UdpGsoSender } from "./sys/libc.ts";
import { type Aead, type AeadBackend, type AeadName, createAead, TAG_BYTES } from "./aead.ts";
import {
  HEADER_BYTES,
  headerIndex,
  headerSeq,
  headerType,
  headerVni,
  MAX_SEQ,
  TYPE_DATA,
  TYPE_DATA_CSUM_PARTIAL,
  writeHeader,
  writeNonce,
} from "./wire.ts";
import { ReplayWindow } from "./replay_window.ts";
import { F, FIELDS, G, GLOBAL_SLOT } from "./counters.ts";
import { Coalescer, VNET_HDR_BYTES } from "./coalesce.ts";
import { type DoorbellHandle, DoorbellListener } from "./doorbell.ts";
import {
  completeChecksum,
  GSO_NONE,
  segmentTcp,
  tcpChecksumStart,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
} from "./segment.ts";

/** A peer as the workers see it. */
export interface WorkerPeer {
  slot: number;
  name: string;
  address: string;
  port: number;
  networks: number[];
  active: boolean;
  session: {
    localIndex: number;
    remoteIndex: number;
    tx: Uint8Array;
    rx: Uint8Array;
    txDirection: 0 | 1;
    aead: AeadName;
  } | null;
}

export interface WorkerNetwork {
  vni: number;
  fd: number;
  mtu: number;
}

export type WorkerMessage =
  | {
    type: "init";
    counters: SharedArrayBuffer;
    udpFd: number;
    backend: AeadBackend;
    /** Rung by whoever posts to this worker. */
    bell: DoorbellHandle;
  }
  | { type: "networks"; networks: WorkerNetwork[] }
  | { type: "peer"; peer: WorkerPeer }
  | { type: "remove"; slot: number }
  | { type: "stop" };

interface PeerRuntime {
  p: WorkerPeer;
  members: Set<number>;
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

const MAX_FRAME = 65535;
let counters: Float64Array<ArrayBufferLike> = new Float64Array(0);
let udpFd = -1;
let backend: AeadBackend = "noble";
let listener: DoorbellListener | null = null;
let networks = new Map<number, WorkerNetwork>();
const peers = new Map<number, PeerRuntime>();
const byAddress = new Map<string, PeerRuntime>();
/** Learned MACs per VNI -> peer slot. */
const macs = new Map<number, Map<number, number>>();
const MAX_MACS = 8192;
let running = true;

function addressKey(address: string, p: number): string {
  return sockaddrKey(sockaddr(address, p));
}

function upsert(p: WorkerPeer): void {
  const old = peers.get(p.slot);
  if (old) byAddress.delete(addressKey(old.p.address, old.p.port));
  const sameSession = old && old.p.session && p.session &&
    old.sessionIndex === p.session.localIndex &&
    old.p.session.remoteIndex === p.session.remoteIndex;
  let txAead = sameSession ? old!.txAead : null;
  let rxAead = sameSession ? old!.rxAead : null;
  if (!sameSession) {
    old?.txAead?.free();
    old?.rxAead?.free();
    if (p.session) {
      txAead = createAead(p.session.aead, p.session.tx, backend);
      rxAead = createAead(p.session.aead, p.session.rx, backend);
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
  peers.set(p.slot, rt);
  byAddress.set(addressKey(p.address, p.port), rt);
}

function remove(slot: number): void {
  const old = peers.get(slot);
  if (!old) return;
  old.txAead?.free();
  old.rxAead?.free();
  peers.delete(slot);
  byAddress.delete(addressKey(old.p.address, old.p.port));
  for (const m of macs.values()) for (const [k, s] of m) if (s === slot) m.delete(k);
}

function handle(msg: WorkerMessage): void {
  if (listener) listener.handled++;
  switch (msg.type) {
    case "init":
      listener = new DoorbellListener(msg.bell);
      listener.handled = 1;
      counters = new Float64Array(msg.counters);
      udpFd = msg.udpFd;
      backend = msg.backend;
      loop();
      break;
    case "networks":
      networks = new Map(msg.networks.map((n) => [n.vni, n]));
      break;
    case "peer":
      upsert(msg.peer);
      break;
    case "remove":
      remove(msg.slot);
      break;
    case "stop":
      running = false;
      break;
  }
}

self.onmessage = (e: MessageEvent<WorkerMessage>) => handle(e.data);

/** One turn of the event loop, much cheaper than setTimeout(0) (milliseconds in a Worker). */
const tick = () =>
  new Promise<void>((resolve) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => {
      c.port1.close();
      resolve();
    };
    c.port2.postMessage(null);
  });

/** Lets the event loop deliver every message posted so far (ring() counted them). */
async function catchUp(l: DoorbellListener): Promise<void> {
  for (let i = 0; l.pending() && i < 1000; i++) await tick();
  if (l.pending()) await new Promise((r) => setTimeout(r, 1));
}
const count = (slot: number, field: number, n = 1) => counters[slot * FIELDS + field] += n;

function mac48(b: Uint8Array, off: number): number {
  return (b[off] * 0x10000000000) + (b[off + 1] * 0x100000000) + ((b[off + 2] << 24) >>> 0) +
    (b[off + 3] << 16) + (b[off + 4] << 8) + b[off + 5];
}

async function loop(): Promise<void> {
  // A TAP read starts with a virtio-net header; `frame` is the Ethernet frame after it.
  const raw = new Uint8Array(VNET_HDR_BYTES + MAX_FRAME);
  const frame = raw.subarray(VNET_HDR_BYTES);
  // Opened frames, on their way into the coalescer.
  const plain = new Uint8Array(MAX_FRAME);
  /** The TAPs written to in this turn of the loop (their answers may already be queued). */
  const wroteTo = new Set<number>();
  const coalescer = new Coalescer((fd, buf, len) => {
    wroteTo.add(fd);
    if (libc.write(fd, buf, len as unknown as bigint) < 0) {
      counters[GLOBAL_SLOT * FIELDS + G.txErrors]++;
    }
  });
  // Received datagrams (a UDP GRO run may fill it), and single sealed datagrams to send.
  const inbox = new Uint8Array(MAX_FRAME + HEADER_BYTES + TAG_BYTES);
  const out = new Uint8Array(MAX_FRAME + HEADER_BYTES + TAG_BYTES);
  const nonce = new Uint8Array(12);
  const sa = new Uint8Array(28);
  const saLen = new Uint32Array([28]);
  const saLenBuf = new Uint8Array(saLen.buffer);
  let pfds = new Uint8Array(0);
  let pfdNets: WorkerNetwork[] = [];
  let lastNets: Map<number, WorkerNetwork> | null = null;

  // The header is built here, sealed as associated data, then copied in front of the
  // ciphertext: one view per packet (where the ciphertext goes) instead of four.
  const hdr = new Uint8Array(HEADER_BYTES);
  const inboxBody = inbox.subarray(HEADER_BYTES);
  const outBody = out.subarray(HEADER_BYTES);
  /**
   * Seals frame `src[0:len]` for `rt` into `dst` at `at` (header + ciphertext + tag) under the
   * next sequence number; returns the datagram's length, or -1 once the session's sequence
   * numbers are exhausted (only a new session, with a new key, may send then).
   */
  const sealInto = (
    rt: PeerRuntime,
    vni: number,
    src: Uint8Array,
    len: number,
    dst: Uint8Array,
    at: number,
    type: number,
  ) => {
    const s = rt.p.session!;
    if (rt.txSeq >= MAX_SEQ) return -1;
    const seq = ++rt.txSeq;
    writeHeader(hdr, vni, s.remoteIndex, seq, type);
    writeNonce(nonce, s.txDirection, seq);
    for (let i = 0; i < HEADER_BYTES; i++) dst[at + i] = hdr[i];
    const body = dst === out && at === 0 ? outBody : dst.subarray(at + HEADER_BYTES);
    return HEADER_BYTES + rt.txAead!.seal(nonce, hdr, src, body, len);
  };

  const sendTo = (rt: PeerRuntime, vni: number, src: Uint8Array, len: number, type: number) => {
    const n = sealInto(rt, vni, src, len, out, 0, type);
    if (n < 0) return;
    const r = libc.sendto(
      udpFd,
      out,
      n as unknown as bigint,
      0,
      rt.sa,
      rt.sa.length,
    );
    if (Number(r) < 0) count(rt.p.slot, F.txErrors);
    else {
      count(rt.p.slot, F.txPackets);
      count(rt.p.slot, F.txBytes, len);
    }
  };

  const seg = new Uint8Array(MAX_FRAME);
  // UDP GRO: the kernel hands over runs of datagrams from one sender in one receive.
  const grecv = UdpGroReceiver.enable(udpFd, inbox, sa);
  // UDP GSO: the sealed datagrams of one super-frame to one peer leave in one sendmsg.
  const batch = new Uint8Array(65000);
  const gso = new UdpGsoSender(udpFd, batch);
  let gsoWorks = true;
  let batchLen = 0, batchSize = 0, batchCount = 0, batchBytes = 0;
  let batchPeer: PeerRuntime | null = null;
  const resetBatch = () => {
    batchLen =
      batchSize =
      batchCount =
      batchBytes =
        0;
    batchPeer = null;
  };
  const flushBatch = () => {
    const rt = batchPeer;
    if (!rt || batchCount === 0) return;
    let r = batchCount === 1
      ? libc.sendto(udpFd, batch, batchLen as unknown as bigint, 0, rt.sa, rt.sa.length)
      : gso.send(rt.sa, batchLen, batchSize);
    if (r < 0 && batchCount > 1) {
      // No UDP GSO here (old kernel): send them one by one from now on.
      gsoWorks = false;
      r = 0;
      for (let off = 0; off < batchLen; off += batchSize) {
        const l = Math.min(batchSize, batchLen - off);
        if (
          libc.sendto(udpFd, batch.subarray(off), l as unknown as bigint, 0, rt.sa, rt.sa.length) <
            0
        ) r = -1;
      }
    }
    if (r < 0) count(rt.p.slot, F.txErrors);
    else {
      count(rt.p.slot, F.txPackets, batchCount);
      count(rt.p.slot, F.txBytes, batchBytes);
    }
    resetBatch();
  };
  /** Seals a segment into the batch for `rt` (flushing when it cannot join). */
  const batchTo = (rt: PeerRuntime, vni: number, f: Uint8Array, len: number, type: number) => {
    const size = HEADER_BYTES + len + TAG_BYTES;
    if (
      batchPeer !== rt || (batchCount > 0 && size > batchSize) || batchLen + size > batch.length ||
      (batchCount > 0 && batchLen % batchSize !== 0) || batchCount >= 64
    ) flushBatch();
    const n = sealInto(rt, vni, f, len, batch, batchLen, type);
    if (n < 0) return;
    if (batchCount === 0) batchSize = n;
    batchPeer = rt;
    batchLen += n;
    batchCount++;
    batchBytes += len;
  };
  /**
   * Sends one frame of network `net` to the peer that owns its MAC (through the batch, so a run
   * of TCP ACKs read from the TAP leaves in one GSO send), or floods it. Kept small, with the
   * two cases apart: it runs for every segment of every super-frame.
   */
  const forward = (net: WorkerNetwork, f: Uint8Array, len: number, type = TYPE_DATA) => {
    if (len > net.mtu + 18) {
      counters[GLOBAL_SLOT * FIELDS + G.oversize]++;
      return;
    }
    if (!toOwner(net, f, len, type)) flood(net, f, len, type);
  };
  /** Sends to the peer where the destination MAC was learned; false if there is none. */
  const toOwner = (net: WorkerNetwork, f: Uint8Array, len: number, type: number) => {
    if ((f[0] & 1) === 1) return false;
    const known = macs.get(net.vni)?.get(mac48(f, 0));
    const rt = known === undefined ? undefined : peers.get(known);
    if (!rt || !rt.p.active || !rt.txAead || !rt.members.has(net.vni)) return false;
    if (gsoWorks) batchTo(rt, net.vni, f, len, type);
    else sendTo(rt, net.vni, f, len, type);
    return true;
  };
  /** Broadcast, multicast and unknown unicast: to every member peer of the network. */
  const flood = (net: WorkerNetwork, f: Uint8Array, len: number, type: number) => {
    // What is batched goes first: a peer sees our frames in the order we read them.
    flushBatch();
    for (const rt of peers.values()) {
      if (rt.p.active && rt.txAead && rt.members.has(net.vni)) sendTo(rt, net.vni, f, len, type);
    }
  };

  const hdrIn = new Uint8Array(HEADER_BYTES);
  /** One received sleeve datagram `inbox[at:at+r]` from `rt` (undefined: not a peer). */
  const processDatagram = (rt: PeerRuntime | undefined, at: number, r: number) => {
    if (!rt) {
      counters[GLOBAL_SLOT * FIELDS + G.unknownPeer]++;
      return;
    }
    const slot = rt.p.slot;
    if (r < HEADER_BYTES + TAG_BYTES + 14) {
      count(slot, F.truncated);
      return;
    }
    for (let i = 0; i < HEADER_BYTES; i++) hdrIn[i] = inbox[at + i];
    const type = headerType(hdrIn);
    if (type !== TYPE_DATA && type !== TYPE_DATA_CSUM_PARTIAL) {
      counters[GLOBAL_SLOT * FIELDS + G.badType]++;
      return;
    }
    const s = rt.p.session;
    if (!s || !rt.rxAead || headerIndex(hdrIn) !== s.localIndex) {
      count(slot, F.noSession);
      return;
    }
    const seq = headerSeq(hdrIn);
    if (!rt.window.check(seq)) {
      count(slot, F.replay);
      return;
    }
    writeNonce(nonce, 1 - s.txDirection, seq);
    const n = rt.rxAead.open(
      nonce,
      hdrIn,
      at === 0 ? inboxBody : inbox.subarray(at + HEADER_BYTES),
      plain,
      r - HEADER_BYTES,
    );
    if (n < 0) {
      count(slot, F.auth);
      return;
    }
    rt.window.commit(seq);
    const vni = headerVni(hdrIn);
    const net = networks.get(vni);
    if (!net) {
      count(slot, F.unknownNetwork);
      return;
    }
    if (!rt.members.has(vni)) {
      count(slot, F.notMember);
      return;
    }
    if (n > net.mtu + 18) {
      count(slot, F.oversize);
      return;
    }
    let csumStart = 0;
    if (type === TYPE_DATA_CSUM_PARTIAL) {
      csumStart = tcpChecksumStart(plain, n);
      if (csumStart < 0) {
        count(slot, F.malformed);
        return;
      }
    }
    coalescer.add(net.fd, plain, n, csumStart);
    count(slot, F.rxPackets);
    count(slot, F.rxBytes, n);
    if ((plain[6] & 1) === 0) {
      const mac = mac48(plain, 6);
      if (rt.learned.get(vni) !== mac) {
        rt.learned.set(vni, mac);
        let m = macs.get(vni);
        if (!m) macs.set(vni, m = new Map());
        m.set(mac, slot);
        if (m.size > MAX_MACS) m.delete(m.keys().next().value!);
      }
    }
  };

  /**
   * A bug met by one packet costs that packet, never the datapath of every peer: counted, the
   * first few printed (they end up in the agent's log).
   */
  const fault = (e: unknown) => {
    if (counters[GLOBAL_SLOT * FIELDS + G.internalErrors]++ < 5) {
      console.error(`sleeve packet worker: dropped a packet after an internal error: ${e}`);
    }
  };

  // Poll set: the doorbell, the UDP socket, then one TAP per network.
  const bell = listener!;
  const TAPS = 2;
  while (running) {
    if (lastNets !== networks) {
      lastNets = networks;
      pfdNets = [...networks.values()];
      const fds = [bell.bell.fd, udpFd, ...pfdNets.map((n) => n.fd)];
      pfds = new Uint8Array(8 * fds.length);
      const v = new DataView(pfds.buffer);
      fds.forEach((fd, i) => {
        v.setInt32(i * 8, fd, true);
        v.setInt16(i * 8 + 4, POLLIN, true);
      });
    }
    // No timeout needed: packets and messages both wake the poll; a long one only bounds how
    // late a lost wake-up could be noticed. (Spinning briefly after work instead, to catch
    // answers awake, measured worse here: on 2 vCPUs the spinner takes the CPU the other end and
    // the kernel need.)
    const ready = libc.poll(pfds, BigInt(pfds.length / 8), 1000);
    if (ready <= 0) continue;
    if ((pfds[6] & POLLIN) !== 0) bell.drain();
    if (bell.pending()) {
      await catchUp(bell);
      continue;
    }
    wroteTo.clear();
    if ((pfds[8 + 6] & POLLIN) !== 0) {
      for (let i = 0; i < 64; i++) {
        const got = grecv ? grecv.receive() : null;
        let r: number, segSize: number;
        if (got) {
          if (got.len < 0) break;
          r = got.len;
          segSize = got.segment || got.len;
        } else {
          saLen[0] = 28;
          r = libc.recvfrom(udpFd, inbox, inbox.length as unknown as bigint, 0, sa, saLenBuf);
          if (r < 0) break;
          segSize = r;
        }
        // With UDP_GRO one receive may hold many datagrams of segSize bytes, back to back,
        // all from the same sender.
        const rt = byAddress.get(sockaddrKey(sa));
        for (let off = 0; off < r; off += segSize) {
          try {
            processDatagram(rt, off, Math.min(segSize, r - off));
          } catch (e) {
            fault(e);
          }
        }
      }
      // End of the batch: nothing waits behind a partial run.
      coalescer.flush();
    }
    for (let t = 0; t < pfdNets.length; t++) {
      // What we just wrote into a bridge often has its answer (echo reply, TCP ACK) queued on
      // the TAP already, before poll could say so: read it now, while this thread is warm.
      const net = pfdNets[t];
      if ((pfds[(TAPS + t) * 8 + 6] & POLLIN) === 0 && !wroteTo.has(net.fd)) continue;
      for (let i = 0; i < 64; i++) {
        const rr = libc.read(net.fd, raw, raw.length as unknown as bigint);
        if (rr < 0) break;
        const r = rr - VNET_HDR_BYTES;
        if (r < 14) continue;
        try {
          const gsoType = raw[1];
          if (gsoType !== GSO_NONE) {
            // A TCP super-frame from the kernel's TSO: cut it into MTU-sized segments here,
            // their TCP checksums left partial (and the datagrams typed so).
            const mss = raw[4] | (raw[5] << 8);
            const emit = (b: Uint8Array, l: number) => forward(net, b, l, TYPE_DATA_CSUM_PARTIAL);
            if (segmentTcp(frame, r, gsoType, mss, seg, emit, true) < 0) {
              counters[GLOBAL_SLOT * FIELDS + G.oversize]++;
            }
            flushBatch();
            continue;
          }
          if ((raw[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
            completeChecksum(frame, r, raw[6] | (raw[7] << 8), raw[8] | (raw[9] << 8));
          }
          forward(net, frame, r);
        } catch (e) {
          fault(e);
          resetBatch();
        }
      }
      flushBatch();
    }
  }
  self.close();
}
