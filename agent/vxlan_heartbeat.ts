/**
 * Heartbeats through the fast datapath. A pair is only put on fast datapath when a datagram sent
 * from this box's overlay address to the peer's overlay address (so through the bridge, the
 * VXLAN device, ESP when encrypted, the underlay and back up the peer's stack) actually arrives.
 * The receiver acknowledges over the authenticated control connection, so an answer cannot be
 * forged by anyone on the wire: only the sender knows the random nonce until it is echoed.
 *
 * @module
 */

import type { Logger } from "./log.ts";

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

/** One UDP socket per overlay address this box holds. */
export class VxlanHeartbeat {
  #sockets = new Map<string, Deno.DatagramConn>();
  #closed = false;
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
      try {
        const sock = Deno.listenDatagram({ hostname: addr, port: this.port, transport: "udp" });
        this.#sockets.set(addr, sock);
        this.#receive(addr, sock);
      } catch (e) {
        this.log.warn("cannot bind heartbeat socket on overlay address", {
          address: addr,
          port: this.port,
          error: `${e}`,
        });
      }
    }
  }

  async #receive(addr: string, sock: Deno.DatagramConn): Promise<void> {
    try {
      for await (const [data, from] of sock) {
        const nonce = decodeHeartbeat(data);
        if (!nonce || from.transport !== "udp") {
          this.dropped++;
          continue;
        }
        this.onHeartbeat(from.hostname, toHex(nonce));
      }
    } catch (e) {
      if (!this.#closed && this.#sockets.get(addr) === sock) {
        this.log.warn("heartbeat socket failed", { address: addr, error: `${e}` });
        this.#sockets.delete(addr);
      }
    }
  }

  /** Sends a heartbeat from `fromAddress` to `toAddress`; returns its nonce (hex). */
  async send(fromAddress: string, toAddress: string, toPort: number): Promise<string | null> {
    const sock = this.#sockets.get(fromAddress);
    if (!sock) return null;
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    try {
      await sock.send(encodeHeartbeat(nonce), {
        transport: "udp",
        hostname: toAddress,
        port: toPort,
      });
    } catch {
      // No route or neighbour yet: the heartbeat simply does not arrive, which is the answer.
    }
    return toHex(nonce);
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
