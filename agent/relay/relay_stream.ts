/**
 * One relayed control session's byte stream (#16), at one of its two ends: what the handshake
 * and the sealed channel of agent/control read and write, cut into `relay` messages to the first
 * relay and put together again from the ones that arrive. The bytes are the endpoints' own; the
 * relays see only their sizes and timing.
 *
 * Reads are buffered up to a bound (a peer that sends more than that without us reading is cut
 * off); writes are handed to the neighbour's session at once (its own queue bound applies).
 *
 * @module
 */

import type { ByteStream } from "../control/mod.ts";
import { RELAY_CHUNK_BYTES, RELAY_MAX_HOPS, type RelayMessage } from "./relay_message.ts";

/** Unread bytes one relayed stream may hold. */
export const RELAY_STREAM_BUFFER_BYTES = 256 * 1024;

/** Where a stream's messages go, and who hears that it closed. */
export interface RelayStreamOwner {
  /** Sends on the neighbour's session; false when there is none. */
  send(via: string, m: RelayMessage): boolean;
  /** The stream closed (either end): forget it. */
  closed(s: RelayStream, why: string): void;
}

/** A relayed stream between this box (`self`) and `peer`, through neighbour `via`. */
export class RelayStream implements ByteStream {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #closed = false;
  #wake: (() => void) | null = null;
  /** Bytes written and read, for status. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(
    readonly self: string,
    readonly peer: string,
    readonly via: string,
    /** The id the opener chose. */
    readonly id: number,
    /** Who opened it: (opener, id) names the stream at both ends. */
    readonly opener: string,
    private readonly owner: RelayStreamOwner,
  ) {}

  /** The key of a stream at either end. */
  static key(opener: string, id: number): string {
    return `${opener}\n${id}`;
  }

  get key(): string {
    return RelayStream.key(this.opener, this.id);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes from the peer. False (and the stream closed) when they overflow the buffer. */
  deliver(data: Uint8Array): boolean {
    if (this.#closed || this.#ended) return false;
    if (this.#buffered + data.length > RELAY_STREAM_BUFFER_BYTES) {
      this.close(`more than ${RELAY_STREAM_BUFFER_BYTES} unread bytes`);
      return false;
    }
    this.#chunks.push(data);
    this.#buffered += data.length;
    this.bytesIn += data.length;
    this.#notify();
    return true;
  }

  /** The peer (or a relay on the way) closed the stream: reads end once the buffer is empty. */
  end(why: string): void {
    if (this.#closed) return;
    this.#ended = true;
    this.#closed = true;
    this.owner.closed(this, why);
    this.#notify();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended || this.#closed) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const take = Math.min(c.length, p.length - n);
      p.set(c.subarray(0, take), n);
      n += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    this.#buffered -= n;
    return n;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`relayed stream to ${this.peer} closed`));
    for (let off = 0; off < data.length; off += RELAY_CHUNK_BYTES) {
      const chunk = data.slice(off, Math.min(data.length, off + RELAY_CHUNK_BYTES));
      const sent = this.owner.send(this.via, {
        type: "relay",
        from: this.self,
        to: this.peer,
        stream: this.id,
        hops: RELAY_MAX_HOPS,
        data: chunk,
      });
      if (!sent) {
        this.close(`no session with relay ${this.via}`);
        return Promise.reject(new Error(`relay ${this.via} has no session`));
      }
      this.bytesOut += chunk.length;
    }
    return Promise.resolve();
  }

  /** Closes this end, and tells the peer (best effort). Idempotent. */
  close(why = "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.owner.send(this.via, {
      type: "relay-close",
      from: this.self,
      to: this.peer,
      stream: this.id,
      hops: RELAY_MAX_HOPS,
      why,
    });
    this.owner.closed(this, why);
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}
