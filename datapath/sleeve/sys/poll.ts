/**
 * poll(2) over a fixed set of descriptors, laid out once as `struct pollfd` array
 * (`int fd; short events; short revents;`, 8 bytes each), so a poll costs one FFI call and
 * reading a result one byte load.
 *
 * @module
 */

import { libc } from "./libc.ts";

export const POLLIN = 1;

const POLLFD_BYTES = 8;
const POLLFD_FD = 0;
const POLLFD_EVENTS = 4;
/** Low byte of the little-endian `revents` short: POLLIN lives there. */
const POLLFD_REVENTS = 6;

/** Descriptors polled for input, in a fixed order. */
export class PollSet {
  readonly #fds: Uint8Array;
  readonly #count: bigint;
  readonly #poll = libc().poll;

  constructor(fds: readonly number[]) {
    this.#fds = new Uint8Array(POLLFD_BYTES * fds.length);
    this.#count = BigInt(fds.length);
    const v = new DataView(this.#fds.buffer);
    fds.forEach((fd, i) => {
      v.setInt32(i * POLLFD_BYTES + POLLFD_FD, fd, true);
      v.setInt16(i * POLLFD_BYTES + POLLFD_EVENTS, POLLIN, true);
    });
  }

  /** Waits up to `timeoutMs` for input on any descriptor; the number ready (≤ 0: none). */
  wait(timeoutMs: number): number {
    return this.#poll(this.#fds, this.#count, timeoutMs);
  }

  /** Whether the `i`th descriptor had input at the last wait. */
  readable(i: number): boolean {
    return (this.#fds[i * POLLFD_BYTES + POLLFD_REVENTS] & POLLIN) !== 0;
  }
}
