/**
 * Receiving: datagrams from peers into the right network's TAP, in the order a datagram meets
 * the steps. Whatever fails a step is dropped and counted, and never disturbs other peers.
 *
 *  1. receive from the UDP socket: with UDP GRO one receive holds a run of same-sized
 *     datagrams from one sender, back to back;
 *  2. the sender's address selects the peer;
 *  3. length, type and receiver index are checked: the index must name one of the sessions the
 *     peer's datagrams are accepted under (during a rekey, the previous and the new one); a
 *     datagram from an address that is not the peer's (roaming, a NAT's new mapping, #15) is
 *     tried under the peer whose session the index names (no such session: counted globally
 *     as from an unknown peer);
 *  4. the sequence number must pass the replay window;
 *  5. the AEAD opens the frame (header as associated data); only then does the window move;
 *     and only then, if the datagram came from elsewhere and is newer than any before it, does
 *     that address become the peer's endpoint (the main thread is told once per move): a
 *     spoofed datagram fails the AEAD, a replayed one the window, a delayed one is not newest;
 *     a keepalive ends here;
 *  6. the network must exist here, the peer must be a member of it, and the frame must fit its
 *     MTU;
 *  7. a partial TCP checksum (TYPE_DATA_CSUM_PARTIAL) must be on a real TCP segment, so the
 *     kernel can be told where to finish it;
 *  8. the coalescer glues consecutive TCP segments of one flow into one super-frame and writes
 *     into the network's TAP (at the end of the receive batch at the latest);
 *  9. the source MAC is learned behind the peer, for the send side's step 4.
 *
 * A relayed datagram (type TYPE_RELAY, #16) leaves at step 3 for relay.ts: forwarded there, or,
 * when it is for this box, back here at step 3 as its source peer's (named by the relay
 * header), without the roaming of steps 3 and 5: a relay's address is never a peer's endpoint.
 *
 * @module
 */

import {
  HEADER_BYTES,
  headerIndex,
  headerSeq,
  headerType,
  headerVni,
  NONCE_BYTES,
  RELAY_HEADER_BYTES,
  TAG_BYTES,
  TYPE_DATA,
  TYPE_DATA_CSUM_PARTIAL,
  TYPE_KEEPALIVE,
  TYPE_RELAY,
  writeNonce,
} from "../wire.ts";
import type { Relay } from "./relay.ts";
import { F, G } from "../counters.ts";
import { Coalescer, COALESCER_BUFFER_BYTES } from "../coalesce.ts";
import { adjacentViews } from "../copy_bytes.ts";
import { tcpChecksumStart } from "../segment.ts";
import {
  sameSockaddr,
  SOCKADDR_MAX_BYTES,
  sockaddrEndpoint,
  UdpGroReceiver,
  UdpReceiver,
} from "../sys/udp.ts";
import type { WorkerNetwork } from "./messages.ts";
import { OffsetViews } from "../offset_views.ts";
import { mac48, type PeerRuntime } from "./peer_table.ts";
import { count, countGlobal, fault, type PathContext } from "./path.ts";
import {
  ETHERNET_HEADER_BYTES,
  ETHERNET_SOURCE_MAC,
  FRAME_OVER_MTU_BYTES,
  MAC_GROUP_BIT,
  MAX_FRAME_BYTES,
  RECEIVES_PER_TURN,
  TURN_BYTES,
} from "./constants.ts";

/** The receive side: {@link Receiver.receive} drains up to a turn's worth of receives. */
export class Receiver {
  /** The TAPs written to since the last {@link clearWritten} (their answers may be queued). */
  readonly wroteTo = new Set<number>();
  /**
   * Sleeve datagrams for this box received so far (relay headers for others not counted), and
   * of them the authentic ones: the rest is what an outsider without keys can make us work on
   * (realtime_budget.ts tells a flood from traffic by them).
   */
  seen = 0;
  authentic = 0;
  private readonly peers: PathContext["peers"];
  // 1. Received datagrams (a UDP GRO run may fill it) and their sender.
  private readonly inbox = new Uint8Array(
    RELAY_HEADER_BYTES + MAX_FRAME_BYTES + HEADER_BYTES + TAG_BYTES,
  );
  private readonly inboxBody = this.inbox.subarray(HEADER_BYTES);
  /** Bodies of datagrams inside a GRO run (or behind a relay header). */
  private readonly inboxViews = new OffsetViews(this.inbox);
  private readonly sa = new Uint8Array(SOCKADDR_MAX_BYTES);
  private readonly udp: UdpGroReceiver | UdpReceiver;
  private readonly hdr = new Uint8Array(HEADER_BYTES);
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  // 5. Opened frames, on their way into the coalescer (one ArrayBuffer with its super-frame,
  // so that gluing copies without garbage: copy_bytes.ts).
  private readonly plain: Uint8Array;
  // 8.
  private readonly coalescer: Coalescer;
  private networks = new Map<number, WorkerNetwork>();

  constructor(private readonly ctx: PathContext, private readonly relay: Relay) {
    const { c, udpFd } = ctx;
    this.peers = ctx.peers;
    this.udp = UdpGroReceiver.enable(udpFd, this.inbox, this.sa) ??
      new UdpReceiver(udpFd, this.inbox, this.sa);
    const [plain, superFrame] = adjacentViews(MAX_FRAME_BYTES, COALESCER_BUFFER_BYTES);
    this.plain = plain;
    this.coalescer = new Coalescer((fd, buf, len) => {
      this.wroteTo.add(fd);
      if (c.write(fd, buf, len) < 0) countGlobal(ctx, G.txErrors);
    }, superFrame);
  }

  clearWritten(): void {
    this.wroteTo.clear();
  }

  /**
   * 1–2. Receives up to a turn's worth (TURN_BYTES) from the socket, then flushes the
   * coalescer.
   */
  receive(networks: Map<number, WorkerNetwork>): void {
    this.networks = networks;
    const udp = this.udp;
    let bytes = 0;
    for (let i = 0; i < RECEIVES_PER_TURN && bytes < TURN_BYTES; i++) {
      const r = udp.receive();
      if (r < 0) break;
      bytes += r;
      const segSize = udp.segment || r;
      const rt = this.peers.fromAddress(this.sa);
      for (let off = 0; off < r; off += segSize) {
        try {
          this.datagram(rt, off, Math.min(segSize, r - off));
        } catch (e) {
          fault(this.ctx, e);
        }
      }
    }
    // 8. End of the batch: nothing waits behind a partial run.
    this.coalescer.flush();
  }

  /**
   * 3–9. One received sleeve datagram `inbox[at:at+r]` from the peer at the sender's address
   * (`known`; undefined: no peer is known there). `relayed`: it came inside a relay header
   * (relay.ts) and `known` is its source: no roaming, no relay header inside.
   */
  private datagram(known: PeerRuntime | undefined, at: number, r: number, relayed = false): void {
    const ctx = this.ctx;
    // 3.
    if (r < HEADER_BYTES + TAG_BYTES) {
      if (known) count(ctx, known.p.slot, F.truncated);
      else countGlobal(ctx, G.unknownPeer);
      return;
    }
    const inbox = this.inbox, hdr = this.hdr, plain = this.plain;
    for (let i = 0; i < HEADER_BYTES; i++) hdr[i] = inbox[at + i];
    const type = headerType(hdr);
    if (type !== TYPE_DATA && type !== TYPE_DATA_CSUM_PARTIAL && type !== TYPE_KEEPALIVE) {
      if (type === TYPE_RELAY && known && !relayed) return this.relayedDatagram(known, at, r);
      countGlobal(ctx, G.badType);
      return;
    }
    this.seen++;
    const index = headerIndex(hdr);
    let rt = known;
    let s = rt?.sessions.forIndex(index);
    if (!s && !relayed) {
      // Not the session of the peer at this address: perhaps a peer that moved (#15).
      const moved = this.peers.fromIndex(index);
      if (moved) {
        rt = moved;
        s = moved.sessions.forIndex(index);
      }
    }
    if (!rt) {
      countGlobal(ctx, G.unknownPeer);
      return;
    }
    const slot = rt.p.slot;
    if (!s) {
      count(ctx, slot, F.noSession);
      return;
    }
    if (type !== TYPE_KEEPALIVE && r < HEADER_BYTES + TAG_BYTES + ETHERNET_HEADER_BYTES) {
      count(ctx, slot, F.truncated);
      return;
    }
    // 4.
    const seq = headerSeq(hdr);
    if (!s.window.check(seq)) {
      count(ctx, slot, F.replay);
      return;
    }
    // 5.
    writeNonce(this.nonce, 1 - s.txDirection, seq);
    const body = at === 0 ? this.inboxBody : this.inboxViews.at(at + HEADER_BYTES);
    const n = s.rxAead.open(this.nonce, hdr, body, plain, r - HEADER_BYTES);
    if (n < 0) {
      count(ctx, slot, F.auth);
      return;
    }
    this.authentic++;
    const newest = seq > s.window.top;
    s.window.commit(seq);
    // An unknown endpoint is learned from any authentic datagram; a known one moves only for
    // the newest (a late datagram from the old address must not move it back).
    if (
      !relayed && rt !== known && (newest || rt.sa.length === 0) && !sameSockaddr(this.sa, rt.sa)
    ) {
      this.moved(rt);
    }
    if (type === TYPE_KEEPALIVE) {
      count(ctx, slot, F.keepalivesIn);
      return;
    }
    // 6.
    const vni = headerVni(hdr);
    const net = this.networks.get(vni);
    if (!net) {
      count(ctx, slot, F.unknownNetwork);
      return;
    }
    if (!rt.members.has(vni)) {
      count(ctx, slot, F.notMember);
      return;
    }
    if (n > net.mtu + FRAME_OVER_MTU_BYTES) {
      count(ctx, slot, F.oversize);
      return;
    }
    // 7.
    let csumStart = 0;
    if (type === TYPE_DATA_CSUM_PARTIAL) {
      csumStart = tcpChecksumStart(plain, n);
      if (csumStart < 0) {
        count(ctx, slot, F.malformed);
        return;
      }
    }
    // 8.
    this.coalescer.add(net.fd, plain, n, csumStart);
    count(ctx, slot, F.rxPackets);
    count(ctx, slot, F.rxBytes, n);
    if (relayed) count(ctx, slot, F.rxRelayed);
    // 9.
    if ((plain[ETHERNET_SOURCE_MAC] & MAC_GROUP_BIT) === 0) {
      this.peers.learn(rt, vni, mac48(plain, ETHERNET_SOURCE_MAC));
    }
  }

  /** 3. A relayed datagram (relay.ts): forwarded there, or opened here as its source peer's. */
  private relayedDatagram(from: PeerRuntime, at: number, r: number): void {
    const src = this.relay.handle(from, this.inbox, at, r);
    if (src) this.datagram(src, at + RELAY_HEADER_BYTES, r - RELAY_HEADER_BYTES, true);
  }

  /** 5. `rt`'s endpoint is where this datagram came from now: recorded, the main thread told. */
  private moved(rt: PeerRuntime): void {
    this.peers.moveTo(rt, this.sa);
    const e = sockaddrEndpoint(rt.sa);
    this.ctx.tell({ type: "endpoint", slot: rt.p.slot, address: e.address, port: e.port });
  }
}
