/**
 * Sending: frames from a network's TAP to the peers, in the order a frame meets the steps.
 *
 *  1. read the TAP: a virtio-net header, then the frame (a 64 KB TCP super-frame when the
 *     kernel used TSO, or a frame whose checksum it left partial);
 *  2. super-frames are cut into MSS-sized segments, their TCP checksums left partial (the
 *     datagrams typed TYPE_DATA_CSUM_PARTIAL so the receiver's kernel finishes them only if
 *     they leave its box); other partial checksums are finished here;
 *  3. frames larger than the network's MTU allows are dropped and counted;
 *  4. a unicast destination MAC learned behind a peer that is active, keyed and a member of the
 *     network selects that peer; anything else is flooded to every such peer;
 *  5. each frame is sealed under the next sequence number of the session the peer is sent under
 *     (header as associated data), unless that key has reached its hard limit (counted as
 *     txRefused); at its soft limit the main thread is told a rekey is due;
 *  6. consecutive sealed datagrams to one peer leave in one UDP GSO send (one sendto for a
 *     single one, or for a flood); a run ends at another peer, a larger datagram, a full batch,
 *     or the end of the TAP reads of this turn.
 *
 * @module
 */

import {
  HEADER_BYTES,
  NONCE_BYTES,
  RELAY_HEADER_BYTES,
  TAG_BYTES,
  TYPE_DATA,
  TYPE_DATA_CSUM_PARTIAL,
  writeHeader,
  writeNonce,
} from "../wire.ts";
import { F, G } from "../counters.ts";
import { completeChecksum, segmentTcp } from "../segment.ts";
import {
  GSO_NONE,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_BYTES,
  vnetU16,
} from "../virtio_net.ts";
import { UdpGsoSender } from "../sys/udp.ts";
import { OffsetViews } from "../offset_views.ts";
import { adjacentViews } from "../copy_bytes.ts";
import type { WorkerNetwork } from "./messages.ts";
import { mac48, type PeerRuntime } from "./peer_table.ts";
import { count, countGlobal, fault, type PathContext } from "./path.ts";
import { admitSend, SEND_OK, SEND_REFUSED, type SessionRuntime } from "./sessions.ts";
import {
  ETHERNET_HEADER_BYTES,
  FRAME_OVER_MTU_BYTES,
  GSO_MAX_SEGMENTS,
  GSO_SEND_MAX_BYTES,
  MAC_GROUP_BIT,
  MAX_FRAME_BYTES,
  TAP_READS_PER_TURN,
  TURN_BYTES,
} from "./constants.ts";

/** The send side: {@link Transmitter.readTap} drains up to a turn's worth of frames. */
export class Transmitter {
  private readonly c: PathContext["c"];
  private readonly udpFd: number;
  private readonly peers: PathContext["peers"];
  // 1. A TAP read starts with a virtio-net header; `frame` is the Ethernet frame after it.
  // 2. One segment of a super-frame at a time (in the TAP read's ArrayBuffer, so that cutting
  // copies without garbage: copy_bytes.ts), and where its segments go.
  private readonly views = adjacentViews(VNET_HDR_BYTES + MAX_FRAME_BYTES, MAX_FRAME_BYTES);
  private readonly raw = this.views[0];
  private readonly frame = this.raw.subarray(VNET_HDR_BYTES);
  private readonly seg = this.views[1];
  private segmentNet: WorkerNetwork | null = null;
  private readonly emitSegment = (b: Uint8Array, l: number) =>
    this.forward(this.segmentNet!, b, l, TYPE_DATA_CSUM_PARTIAL);
  // 5. The header is built here, sealed as associated data, then copied in front of the
  // ciphertext: one view per packet (where the ciphertext goes) instead of four.
  private readonly hdr = new Uint8Array(HEADER_BYTES);
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  // 6. A single sealed datagram (flood), and the GSO batch.
  private readonly out = new Uint8Array(
    RELAY_HEADER_BYTES + MAX_FRAME_BYTES + HEADER_BYTES + TAG_BYTES,
  );
  private readonly outBody = this.out.subarray(HEADER_BYTES);
  private readonly batch = new Uint8Array(GSO_SEND_MAX_BYTES);
  // Where each sealed body starts (after a relay prefix in `out`, at a segment in `batch`).
  private readonly outViews = new OffsetViews(this.out);
  private readonly batchViews = new OffsetViews(this.batch);
  private readonly gso: UdpGsoSender;
  private gsoWorks = true;
  private batchLen = 0;
  private batchSize = 0;
  private batchCount = 0;
  private batchBytes = 0;
  private batchPeer: PeerRuntime | null = null;

  constructor(private readonly ctx: PathContext) {
    this.c = ctx.c;
    this.udpFd = ctx.udpFd;
    this.peers = ctx.peers;
    this.gso = new UdpGsoSender(ctx.udpFd, this.batch);
  }

  /**
   * 1. Reads up to a turn's worth of frames (TURN_BYTES) from `net`'s TAP and sends them on
   * (what is left waits for the next turn: poll reports it at once).
   */
  readTap(net: WorkerNetwork): void {
    const raw = this.raw;
    let bytes = 0;
    for (let i = 0; i < TAP_READS_PER_TURN && bytes < TURN_BYTES; i++) {
      const rr = this.c.read(net.fd, raw, raw.length);
      if (rr < 0) break;
      bytes += rr;
      const r = rr - VNET_HDR_BYTES;
      if (r < ETHERNET_HEADER_BYTES) continue;
      try {
        this.fromTap(net, r);
      } catch (e) {
        fault(this.ctx, e);
        this.resetBatch();
      }
    }
    this.flushBatch();
  }

  /** 1–2. One frame read from the TAP (`r` bytes after the virtio-net header). */
  private fromTap(net: WorkerNetwork, r: number): void {
    const raw = this.raw;
    const gsoType = raw[VNET_GSO_TYPE];
    if (gsoType !== GSO_NONE) {
      // A TCP super-frame from the kernel's TSO: cut it into MTU-sized segments here, their
      // TCP checksums left partial (and the datagrams typed so).
      this.segmentNet = net;
      const mss = vnetU16(raw, VNET_GSO_SIZE);
      if (segmentTcp(this.frame, r, gsoType, mss, this.seg, this.emitSegment, true) < 0) {
        countGlobal(this.ctx, G.oversize);
      }
      this.flushBatch();
      return;
    }
    if ((raw[VNET_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      const start = vnetU16(raw, VNET_CSUM_START);
      completeChecksum(this.frame, r, start, vnetU16(raw, VNET_CSUM_OFFSET));
    }
    this.forward(net, this.frame, r, TYPE_DATA);
  }

  /**
   * 3–4. Sends one frame of network `net` to its owner (through the batch, so a run of TCP ACKs
   * read from the TAP leaves in one GSO send), or floods it. Kept small, with the two cases
   * apart: it runs for every segment of every super-frame.
   */
  private forward(net: WorkerNetwork, f: Uint8Array, len: number, type: number): void {
    if (len > net.mtu + FRAME_OVER_MTU_BYTES) {
      countGlobal(this.ctx, G.oversize);
      return;
    }
    if (!this.toOwner(net, f, len, type)) this.flood(net, f, len, type);
  }

  /** 4. Sends to the peer where the destination MAC was learned; false if there is none. */
  private toOwner(net: WorkerNetwork, f: Uint8Array, len: number, type: number): boolean {
    if ((f[0] & MAC_GROUP_BIT) !== 0) return false;
    const rt = this.peers.owner(net.vni, mac48(f, 0));
    if (!rt || !rt.p.active || !rt.sessions.sending || !rt.members.has(net.vni)) return false;
    if (this.gsoWorks) this.batchTo(rt, net.vni, f, len, type);
    else this.sendAlone(rt, net.vni, f, len, type);
    return true;
  }

  /** 4. Broadcast, multicast and unknown unicast: to every member peer of the network. */
  private flood(net: WorkerNetwork, f: Uint8Array, len: number, type: number): void {
    // What is batched goes first: a peer sees our frames in the order we read them.
    this.flushBatch();
    for (const rt of this.peers.bySlot.values()) {
      if (rt.p.active && rt.sessions.sending && rt.members.has(net.vni)) {
        this.sendAlone(rt, net.vni, f, len, type);
      }
    }
  }

  /**
   * 5. Seals frame `src[0:len]` for `rt` into `dst` at `at` (header + ciphertext + tag) under
   * the sending session's next sequence number; returns the datagram's length, or -1 when the
   * key has reached its hard limit (only a new session, with a new key, may send then).
   */
  private seal(
    rt: PeerRuntime,
    vni: number,
    src: Uint8Array,
    len: number,
    dst: Uint8Array,
    at: number,
    type: number,
  ): number {
    const s = rt.sessions.sending!;
    const verdict = admitSend(s, len);
    if (verdict !== SEND_OK) {
      if (verdict === SEND_REFUSED) return this.refuse(rt, s);
      this.tellSession(rt, s, "rekey-due");
    }
    const seq = s.txSeq;
    const hdr = this.hdr;
    writeHeader(hdr, vni, s.remoteIndex, seq, type);
    writeNonce(this.nonce, s.txDirection, seq);
    // A relayed peer (#16, relay.ts): the relay header goes first; the datagram is unchanged.
    const prefix = rt.prefix;
    if (prefix !== 0) {
      const rh = rt.relayHeader!;
      for (let i = 0; i < prefix; i++) dst[at + i] = rh[i];
      at += prefix;
    }
    for (let i = 0; i < HEADER_BYTES; i++) dst[at + i] = hdr[i];
    const body = dst === this.out
      ? (at === 0 ? this.outBody : this.outViews.at(at + HEADER_BYTES))
      : this.batchViews.at(at + HEADER_BYTES);
    return prefix + HEADER_BYTES + s.txAead.seal(this.nonce, hdr, src, body, len);
  }

  /** 5. A frame not sealed: the key is spent. Counted; the main thread told once. */
  private refuse(rt: PeerRuntime, s: SessionRuntime): number {
    count(this.ctx, rt.p.slot, F.txRefused);
    if (!s.exhaustedSent) {
      s.exhaustedSent = true;
      this.tellSession(rt, s, "exhausted");
    }
    return -1;
  }

  private tellSession(rt: PeerRuntime, s: SessionRuntime, event: "rekey-due" | "exhausted") {
    this.ctx.tell({
      type: "session",
      slot: rt.p.slot,
      localIndex: s.localIndex,
      event,
      packets: s.txSeq,
      bytes: s.txBytes,
    });
  }

  /** 5–6. One sealed datagram, alone (floods, and kernels without UDP GSO). */
  private sendAlone(rt: PeerRuntime, vni: number, src: Uint8Array, len: number, type: number) {
    const n = this.seal(rt, vni, src, len, this.out, 0, type);
    if (n < 0) return;
    const slot = rt.p.slot;
    const sa = rt.relaySa ?? rt.sa;
    if (this.c.sendto(this.udpFd, this.out, n, 0, sa, sa.length) < 0) {
      count(this.ctx, slot, F.txErrors);
    } else {
      count(this.ctx, slot, F.txPackets);
      count(this.ctx, slot, F.txBytes, len);
    }
  }

  /** 5–6. Seals a segment into the batch for `rt` (flushing first when it cannot join). */
  private batchTo(rt: PeerRuntime, vni: number, f: Uint8Array, len: number, type: number) {
    const size = rt.prefix + HEADER_BYTES + len + TAG_BYTES;
    const n0 = this.batchCount;
    if (
      this.batchPeer !== rt || (n0 > 0 && size > this.batchSize) ||
      this.batchLen + size > this.batch.length ||
      (n0 > 0 && this.batchLen % this.batchSize !== 0) || n0 >= GSO_MAX_SEGMENTS
    ) this.flushBatch();
    const n = this.seal(rt, vni, f, len, this.batch, this.batchLen, type);
    if (n < 0) return;
    if (this.batchCount === 0) this.batchSize = n;
    this.batchPeer = rt;
    this.batchLen += n;
    this.batchCount++;
    this.batchBytes += len;
  }

  private resetBatch(): void {
    this.batchLen =
      this.batchSize =
      this.batchCount =
      this.batchBytes =
        0;
    this.batchPeer = null;
  }

  /** 6. Sends the batch: one GSO send (or a sendto for one datagram). */
  private flushBatch(): void {
    const rt = this.batchPeer;
    if (!rt || this.batchCount === 0) return;
    const { c, udpFd, batch, batchLen, batchSize, batchCount } = this;
    const sa = rt.relaySa ?? rt.sa;
    let r = batchCount === 1
      ? c.sendto(udpFd, batch, batchLen, 0, sa, sa.length)
      : this.gso.send(sa, batchLen, batchSize);
    if (r < 0 && batchCount > 1) {
      // No UDP GSO here (old kernel): send them one by one from now on.
      this.gsoWorks = false;
      r = 0;
      for (let off = 0; off < batchLen; off += batchSize) {
        const l = Math.min(batchSize, batchLen - off);
        if (c.sendto(udpFd, batch.subarray(off), l, 0, sa, sa.length) < 0) r = -1;
      }
    }
    if (r < 0) count(this.ctx, rt.p.slot, F.txErrors);
    else {
      count(this.ctx, rt.p.slot, F.txPackets, batchCount);
      count(this.ctx, rt.p.slot, F.txBytes, this.batchBytes);
    }
    this.resetBatch();
  }
}
