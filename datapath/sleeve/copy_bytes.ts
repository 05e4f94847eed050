/**
 * Copying bytes between two views without the `subarray` that `dst.set(src.subarray(a, b))`
 * makes per call: where both views are of one ArrayBuffer, one `copyWithin` on a view of the
 * whole buffer (made once per buffer) moves them. The packet path lays its buffers out that way
 * (a TAP frame and the segment cut from it; an opened frame and the super-frame it joins), so
 * cutting and gluing segments makes no garbage; other callers (tests) get the plain `set`.
 *
 * @module
 */

const wholes = new WeakMap<ArrayBufferLike, Uint8Array>();

/** Copies `src[start:end]` into `dst` at `at` (the ranges must not overlap). */
export function copyBytes(
  dst: Uint8Array,
  at: number,
  src: Uint8Array,
  start: number,
  end: number,
): void {
  const buf = dst.buffer;
  if (buf !== src.buffer) {
    dst.set(src.subarray(start, end), at);
    return;
  }
  let whole = wholes.get(buf);
  if (whole === undefined) wholes.set(buf, whole = new Uint8Array(buf));
  whole.copyWithin(dst.byteOffset + at, src.byteOffset + start, src.byteOffset + end);
}

/** Views `a` bytes then `b` bytes, back to back in one new buffer (see {@link copyBytes}). */
export function adjacentViews(a: number, b: number): [Uint8Array, Uint8Array] {
  const buf = new ArrayBuffer(a + b);
  return [new Uint8Array(buf, 0, a), new Uint8Array(buf, a, b)];
}
