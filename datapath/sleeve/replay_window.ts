/**
 * Sliding anti-replay window over sequence numbers (exact integers below 2^53) (RFC 6479 style bitmap). A packet is
 * accepted once, if it is newer than the highest seen or within the last WINDOW packets; the
 * window only moves after the packet has been authenticated (`check` then `commit`).
 *
 * @module
 */

/** Window size in packets (a multiple of 32). */
export const WINDOW = 2048;
const WORDS = WINDOW / 32;

export class ReplayWindow {
  #top = 0; // highest accepted sequence number; 0 = none yet

  /** The highest sequence number accepted so far (0: none yet). */
  get top(): number {
    return this.#top;
  }
  #bits = new Uint32Array(WORDS);

  /** True when `seq` has not been seen and is not too old. Sequence 0 is never valid. */
  check(seq: number): boolean {
    if (!(seq > 0) || seq > Number.MAX_SAFE_INTEGER) return false;
    if (seq > this.#top) return true;
    if (this.#top - seq >= WINDOW) return false;
    const i = seq % WINDOW;
    return (this.#bits[i >>> 5] & (1 << (i & 31))) === 0;
  }

  /** Records `seq` as received (call only after `check` and authentication succeeded). */
  commit(seq: number): void {
    if (seq > this.#top) {
      const gap = seq - this.#top;
      if (gap >= WINDOW) {
        this.#bits.fill(0);
      } else {
        for (let s = this.#top + 1; s <= seq; s++) {
          const i = s % WINDOW;
          this.#bits[i >>> 5] &= ~(1 << (i & 31));
        }
      }
      this.#top = seq;
    }
    const i = seq % WINDOW;
    this.#bits[i >>> 5] |= 1 << (i & 31);
  }

  get highest(): number {
    return this.#top;
  }
}
