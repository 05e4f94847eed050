/**
 * The byte stream the control plane runs on: accepted `Deno.Conn`s, and dialled sockets bound to
 * the agent's own address (Deno.connect cannot choose a source address, and peers check that a
 * connection comes from the address configured for the name it claims).
 *
 * @module
 */

import net from "node:net";
import { canonicalAddress } from "./peer_address.ts";

/** A bidirectional byte stream: the minimum the handshake and the sealed channel need. */
export interface ByteStream {
  /** Reads into `p`; resolves with the count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes all of `data`. */
  write(data: Uint8Array): Promise<void>;
  /** Closes at once; pending reads and writes fail or end. Idempotent. */
  close(): void;
  /** The peer's address (canonical), where a socket knows it: what a NAT maps a box to (#15). */
  readonly remote?: string;
}

/** A `Deno.Conn` as a ByteStream. */
export class DenoConnStream implements ByteStream {
  #closed = false;
  readonly remote?: string;
  constructor(readonly conn: Deno.Conn) {
    const a = conn.remoteAddr;
    if (a.transport === "tcp") this.remote = canonicalAddress(a.hostname);
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p);
  }

  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) off += await this.conn.write(data.subarray(off));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime (reset): nothing left to release.
    }
  }
}

/** Pauses the socket above this many unread bytes, so a fast sender cannot grow our memory. */
const HIGH_WATER = 256 * 1024;

/** A node:net socket as a pull-based ByteStream with bounded buffering. */
class NodeSocketStream implements ByteStream {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;
  readonly remote?: string;

  constructor(private readonly socket: net.Socket) {
    if (socket.remoteAddress) this.remote = canonicalAddress(socket.remoteAddress);
    socket.on("data", (b: Uint8Array) => {
      this.#chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      this.#buffered += b.byteLength;
      if (this.#buffered > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
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
    if (this.#buffered <= HIGH_WATER / 2 && this.socket.isPaused()) this.socket.resume();
    return n;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed || this.#error) {
      return Promise.reject(this.#error ?? new Error("connection closed"));
    }
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err?: Error | null) => err ? reject(err) : resolve());
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.destroy();
    this.#notify();
  }
}

/** Where and how to dial. */
export interface DialOptions {
  hostname: string;
  port: number;
  /** Source address to bind; undefined lets the kernel choose. */
  localAddress?: string;
  /** Gives up (and closes the half-open socket) after this long. */
  timeoutMs: number;
  /** Aborting gives up at once. */
  signal?: AbortSignal;
}

/** Connects over TCP, optionally from a given source address, within a deadline. */
export function dialTcp(o: DialOptions): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: o.hostname,
      port: o.port,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    socket.setNoDelay(true);
    const fail = (e: Error) => {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(e);
    };
    const onAbort = () => fail(new Error("dial aborted"));
    const timer = setTimeout(
      () => fail(new Error(`connect to ${o.hostname}:${o.port} timed out after ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", fail);
    socket.once("connect", () => {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      socket.off("error", fail);
      resolve(new NodeSocketStream(socket));
    });
  });
}
