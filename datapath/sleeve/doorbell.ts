/**
 * A doorbell for a packet worker that sleeps in poll(): an eventfd in its poll set and a shared
 * count of messages posted to it. The worker runs its event loop (where messages are handled)
 * only while that count is ahead of what it has handled, so the packet loop never pays for
 * periodic yields (a `setTimeout(0)` turn costs milliseconds in a Worker), and idle workers
 * sleep until a packet or a message arrives instead of waking on a timer.
 *
 * @module
 */

import { EFD_CLOEXEC, EFD_NONBLOCK, errnoText, libc } from "./sys/libc.ts";

/** An eventfd counter is a u64. */
const EVENTFD_BYTES = 8;

/** What a worker needs to know about its doorbell (structured-clonable). */
export interface DoorbellHandle {
  fd: number;
  posted: SharedArrayBuffer;
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** Creates a doorbell; the caller closes it with {@link closeDoorbell} after the worker stops. */
export function createDoorbell(): DoorbellHandle {
  const fd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw new Error(`eventfd: ${errnoText()}`);
  return { fd, posted: new SharedArrayBuffer(4) };
}

/** Records one more message posted to the worker and wakes it. Call after postMessage. */
export function ring(bell: DoorbellHandle): void {
  Atomics.add(new Int32Array(bell.posted), 0, 1);
  libc().write(bell.fd, ONE, EVENTFD_BYTES);
}

export function closeDoorbell(bell: DoorbellHandle): void {
  libc().close(bell.fd);
}

/** The worker's side: how many messages it has handled, and whether any are still waiting. */
export class DoorbellListener {
  #posted: Int32Array;
  #scratch = new Uint8Array(EVENTFD_BYTES);
  #read = libc().read;
  handled = 0;

  constructor(readonly bell: DoorbellHandle) {
    this.#posted = new Int32Array(bell.posted);
  }

  /** Whether messages were posted that the worker has not handled yet. */
  pending(): boolean {
    return Atomics.load(this.#posted, 0) > this.handled;
  }

  /** Resets the eventfd after poll() reported it readable. */
  drain(): void {
    this.#read(this.bell.fd, this.#scratch, EVENTFD_BYTES);
  }
}
