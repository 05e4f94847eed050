/**
 * Heartbeats through the fast datapath. A pair is only put on fast datapath when a datagram sent
 * from this box's overlay address to the peer's overlay address (so through the bridge, the
 * VXLAN device, ESP when encrypted, the underlay and back up the peer's stack) actually arrives.
 * The receiver acknowledges over the authenticated control connection, so an answer cannot be
 * forged by anyone on the wire: only the sender knows the random nonce until it is echoed.
 *
 * What an attacker on the underlay can still do is hold heartbeat datagrams back, or replay
 * them, to make a dead path look alive. So (#14):
 * - the sender counts an ack only for a heartbeat it sent recently and has not yet seen
 *   answered (`PendingHeartbeats`: each nonce once, and only until `maxAgeMs` after it was
 *   sent, so one held back past the dead-path window proves nothing);
 * - the receiver acks each nonce once and at most `burst` per `windowMs` per peer
 *   (`HeartbeatAcks`), so replayed or flooded datagrams cost the control connection nothing.
 *
 * @module
 */

import dgram from "node:dgram";
import type { Logger } from "./ops/log.ts";

const MAGIC = new TextEncoder().encode("WVHB0001");
const NONCE_BYTES = 16;
const DATAGRAM_BYTES = MAGIC.length + NONCE_BYTES;

/** Called when a heartbeat arrives: who sent it (overlay address) and its nonce. */
export type HeartbeatHandler = (fromAddress: string, nonceHex: string) => void;

/** Encodes a heartbeat datagram. */
export function encodeHeartbeat(nonce: Uint8Array): Uint8Array {
  const out = new Uint8Array(DATAGRAM_BYTES);
  out.set(MAGIC, 0);
  out.set(nonce, MAGIC.length);
  return out;
}

/** Decodes a heartbeat datagram; null for anything else. */
export function decodeHeartbeat(data: Uint8Array): Uint8Array | null {
  if (data.length !== DATAGRAM_BYTES) return null;
  for (let i = 0; i < MAGIC.length; i++) if (data[i] !== MAGIC[i]) return null;
  return data.slice(MAGIC.length);
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Heartbeats sent and not yet answered, by nonce, each valid once and for `maxAgeMs`. */
export class PendingHeartbeats {
  readonly #sentAt = new Map<string, number>();
  /** Acks refused: not pending (replayed, forged, answered already) or too old. */
  refused = 0;

  constructor(readonly maxAgeMs: number, readonly max = 64) {}

  /** A heartbeat with `nonce` went out at `now`. */
  add(nonce: string, now: number): void {
    this.#sentAt.delete(nonce);
    this.#sentAt.set(nonce, now);
    while (this.#sentAt.size > this.max) this.#sentAt.delete(this.#sentAt.keys().next().value!);
  }

  /**
   * An ack for `nonce` at `now`: when it answers a heartbeat sent at most `maxAgeMs` ago and
   * not answered yet, that heartbeat's send time (what the ack proves: the path carried a
   * datagram sent then), once; otherwise null.
   */
  take(nonce: string, now: number): number | null {
    this.#expire(now);
    const at = this.#sentAt.get(nonce);
    if (at === undefined) {
      this.refused++;
      return null;
    }
    this.#sentAt.delete(nonce);
    return at;
  }

  /** Heartbeats still waiting for an answer. */
  get size(): number {
    return this.#sentAt.size;
  }

  #expire(now: number): void {
    // Insertion order is send order: the oldest are first.
    for (const [nonce, at] of this.#sentAt) {
      if (now - at <= this.maxAgeMs) break;
      this.#sentAt.delete(nonce);
    }
  }
}

/** Default receiver bounds: acks per peer per window (a probe sends ~10 a second at most). */
export const ACK_BURST = 20;
export const ACK_WINDOW_MS = 1000;
/** Nonces remembered per peer as acked, so a replay is not acked twice. */
export const ACKED_REMEMBERED = 256;

/** The receiver's side: whether a heartbeat from a peer gets an ack (once, rate-limited). */
export class HeartbeatAcks {
  readonly #peers = new Map<string, { start: number; count: number; acked: Set<string> }>();
  /** Heartbeats not acked: seen already, or over the rate. */
  refused = 0;

  constructor(
    readonly burst = ACK_BURST,
    readonly windowMs = ACK_WINDOW_MS,
    readonly remembered = ACKED_REMEMBERED,
  ) {}

  /** A heartbeat with `nonce` from `peer` at `now`: true when it is to be acked. */
  admit(peer: string, nonce: string, now: number): boolean {
    let p = this.#peers.get(peer);
    if (!p) this.#peers.set(peer, p = { start: now, count: 0, acked: new Set() });
    if (now - p.start >= this.windowMs) {
      p.start = now;
      p.count = 0;
    }
    if (p.acked.has(nonce) || p.count >= this.burst) {
      this.refused++;
      return false;
    }
    p.count++;
    p.acked.add(nonce);
    if (p.acked.size > this.remembered) p.acked.delete(p.acked.values().next().value!);
    return true;
  }

  /** The peer is gone: forget it. */
  forget(peer: string): void {
    this.#peers.delete(peer);
  }
}

/**
 * One UDP socket per overlay address this box holds. node:dgram rather than
 * Deno.listenDatagram: the latter still needs --unstable-net, and a few datagrams a second do
 * not care about speed.
 */
export class VxlanHeartbeat {
  #sockets = new Map<string, dgram.Socket>();
  /** Datagrams that were not heartbeats: counted, never acted on. */
  dropped = 0;

  constructor(
    private readonly port: number,
    private readonly onHeartbeat: HeartbeatHandler,
    private readonly log: Logger,
  ) {}

  /** Makes the set of bound overlay addresses exactly `addresses`. */
  setAddresses(addresses: string[]): void {
    for (const [addr, sock] of this.#sockets) {
      if (!addresses.includes(addr)) {
        sock.close();
        this.#sockets.delete(addr);
      }
    }
    for (const addr of addresses) {
      if (this.#sockets.has(addr)) continue;
      const sock = dgram.createSocket(addr.includes(":") ? "udp6" : "udp4");
      sock.on("message", (data: Uint8Array, from: { address: string }) => {
        const nonce = decodeHeartbeat(new Uint8Array(data));
        if (!nonce) {
          this.dropped++;
          return;
        }
        this.onHeartbeat(from.address, toHex(nonce));
      });
      sock.on("error", (e: Error) => {
        this.log.warn("heartbeat socket failed", { address: addr, port: this.port, error: `${e}` });
        if (this.#sockets.get(addr) === sock) this.#sockets.delete(addr);
        try {
          sock.close();
        } catch { /* already closed */ }
      });
      sock.bind(this.port, addr);
      this.#sockets.set(addr, sock);
    }
  }

  /** Sends a heartbeat from `fromAddress` to `toAddress`; returns its nonce (hex). */
  send(fromAddress: string, toAddress: string, toPort: number): Promise<string | null> {
    const sock = this.#sockets.get(fromAddress);
    if (!sock) return Promise.resolve(null);
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    return new Promise((resolve) => {
      // A send error (no route or neighbour yet) means the heartbeat does not arrive, which
      // is the answer the probe is after.
      sock.send(encodeHeartbeat(nonce), toPort, toAddress, () => resolve(toHex(nonce)));
    });
  }

  close(): void {
    for (const s of this.#sockets.values()) {
      try {
        s.close();
      } catch { /* already closed */ }
    }
    this.#sockets.clear();
  }
}
