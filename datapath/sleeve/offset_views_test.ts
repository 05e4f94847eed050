import { strictEqual } from "node:assert";
import { MAX_OFFSET_VIEWS, OffsetViews } from "./offset_views.ts";

Deno.test("offset views: the same view per offset, onto the same bytes, and bounded in number", () => {
  const buf = new Uint8Array(10_000).map((_, i) => i & 255);
  const v = new OffsetViews(buf);
  const a = v.at(1448);
  strictEqual(v.at(1448), a, "kept");
  strictEqual(a.byteOffset, 1448);
  strictEqual(a.length, 10_000 - 1448);
  strictEqual(a.buffer, buf.buffer);
  a[0] = 77;
  strictEqual(buf[1448], 77, "a view, not a copy");
  for (let i = 0; i <= MAX_OFFSET_VIEWS; i++) v.at(i);
  strictEqual(v.at(1448) === a, false, "dropped past the bound, made anew");
  strictEqual(v.at(1448)[0], 77);
});
