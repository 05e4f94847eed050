/**
 * Views into one buffer from a given offset to its end, made once per offset and kept: the
 * packet path passes a buffer's middle to FFI (sealing into a GSO batch at a segment's offset,
 * opening a datagram inside a GRO run), and a fresh `subarray` per packet was garbage the worker
 * then paid for in scavenges (about 60 a second on the sending side of one TCP stream).
 *
 * The offsets a batch uses are few (multiples of a flow's segment size), but nothing bounds
 * them from outside, so past {@link MAX_OFFSET_VIEWS} the kept views are dropped and made anew.
 *
 * @module
 */

/** Views kept per buffer before they are dropped (each is a small object). */
export const MAX_OFFSET_VIEWS = 4096;

export class OffsetViews {
  readonly #buf: Uint8Array;
  #views = new Map<number, Uint8Array>();

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  /** `buf.subarray(offset)`, the same object each time for the same offset. */
  at(offset: number): Uint8Array {
    let v = this.#views.get(offset);
    if (v === undefined) {
      if (this.#views.size >= MAX_OFFSET_VIEWS) this.#views.clear();
      v = this.#buf.subarray(offset);
      this.#views.set(offset, v);
    }
    return v;
  }
}
