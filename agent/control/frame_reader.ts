/**
 * Bounded, buffered reads from a byte stream: exact byte counts for the handshake, u32
 * length-prefixed frames afterwards. The buffer never grows beyond a fixed bound, whatever the
 * peer claims in a length prefix.
 *
 * @module
 */

import { WireError } from "./wire_error.ts";

/** Where bytes come from (a ByteStream, or anything with the same `read`). */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** The largest sealed control frame body (ciphertext + tag) we accept or send. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Reads exact byte counts and length-prefixed frames, buffering at most `maxBuffered` bytes. */
export class FrameReader {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Bytes read from the stream so far (what a timed-out handshake had heard, for its error). */
  bytesIn = 0;
  /** When bytes last arrived (ms since the epoch; 0 before any). */
  lastInAt = 0;

  constructor(
    private readonly source: ByteSource,
    readonly maxBuffered: number = MAX_FRAME_BYTES + 4,
  ) {
    this.#buf = new Uint8Array(Math.min(4096, maxBuffered));
  }

  /** Bytes read from the stream but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Exactly `n` bytes. At end of stream: null when `eofOk` and nothing of them had arrived,
   * else a "truncated" WireError.
   */
  async exact(n: number, eofOk = false): Promise<Uint8Array | null> {
    if (!await this.#fill(n, eofOk)) return null;
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return out;
  }

  /** The next `n` bytes without consuming them; end of stream is an error. */
  async peek(n: number): Promise<Uint8Array> {
    await this.#fill(n, false);
    return this.#buf.slice(this.#start, this.#start + n);
  }

  /** Exactly `n` bytes; end of stream is always an error. */
  async bytes(n: number): Promise<Uint8Array> {
    return (await this.exact(n))!;
  }

  /**
   * One frame: u32 big-endian length ‖ body, `minLength` ≤ length ≤ `maxLength`. Null at a
   * clean end of stream between frames.
   */
  async frame(maxLength = MAX_FRAME_BYTES, minLength = 0): Promise<Uint8Array | null> {
    const head = await this.exact(4, true);
    if (head === null) return null;
    const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    if (len > maxLength) {
      throw new WireError("oversize", `frame length ${len} exceeds the ${maxLength}-byte bound`);
    }
    if (len < minLength) throw new WireError("garbage", `frame length ${len} is too short`);
    return await this.bytes(len);
  }

  /** Buffers `n` bytes; false only at a clean end of stream when `eofOk`. */
  async #fill(n: number, eofOk: boolean): Promise<boolean> {
    if (n > this.maxBuffered) {
      throw new WireError("oversize", `${n} bytes exceed the ${this.maxBuffered}-byte bound`);
    }
    while (this.#end - this.#start < n) {
      this.#makeRoom(n);
      const got = await this.source.read(this.#buf.subarray(this.#end));
      if (got === null) {
        const have = this.#end - this.#start;
        if (eofOk && have === 0) return false;
        throw new WireError("truncated", `connection closed after ${have} of ${n} bytes`);
      }
      this.#end += got;
      this.bytesIn += got;
      this.lastInAt = Date.now();
    }
    return true;
  }

  /** Makes room for `n` unconsumed bytes: compacts first, grows (up to the bound) if needed. */
  #makeRoom(n: number): void {
    if (this.#start + n <= this.#buf.length && this.#end < this.#buf.length) return;
    const have = this.#end - this.#start;
    if (n > this.#buf.length) {
      const size = Math.min(this.maxBuffered, Math.max(n, this.#buf.length * 2));
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    } else {
      this.#buf.copyWithin(0, this.#start, this.#end);
    }
    this.#start = 0;
    this.#end = have;
  }
}
