/**
 * Heartbeats through the fast datapath. A pair is only put on fast datapath when a datagram sent
 * from this box's overlay address to the peer's overlay address (so through the bridge, the
 * VXLAN device, ESP when encrypted, the underlay and back up the peer's stack) actually arrives.
 * The receiver acknowledges over the authenticated control connection, so an answer cannot be
 * forged by anyone on the wire: only the sender knows the random nonce until it is echoed.
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
