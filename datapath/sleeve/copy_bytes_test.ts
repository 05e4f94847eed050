import { strictEqual } from "node:assert";
import { adjacentViews, copyBytes } from "./copy_bytes.ts";

Deno.test("copyBytes: within one buffer and across two, the same bytes land in the same place", () => {
  const [src, dst] = adjacentViews(300, 200);
  src.forEach((_, i) => src[i] = i & 255);
  dst.fill(0xee);
  copyBytes(dst, 10, src, 100, 150);
  for (let i = 0; i < 50; i++) strictEqual(dst[10 + i], (100 + i) & 255);
  strictEqual(dst[9], 0xee, "nothing before");
  strictEqual(dst[60], 0xee, "nothing after");
  strictEqual(src[99], 99, "the source unchanged");
  const other = new Uint8Array(200).fill(0xee);
  copyBytes(other, 10, src, 100, 150);
  strictEqual(other.subarray(0, 70).join(), dst.subarray(0, 70).join(), "the same as a plain set");
});
