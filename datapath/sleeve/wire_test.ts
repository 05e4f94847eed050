import { deepStrictEqual, strictEqual } from "node:assert";
import {
  headerIndex,
  headerSeq,
  headerType,
  headerVni,
  TYPE_DATA_CSUM_PARTIAL,
  writeHeader,
  writeNonce,
} from "./wire.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("sleeve header and nonce: exact bytes, big-endian, and back", () => {
  const h = new Uint8Array(16);
  writeHeader(h, 0x123456, 0xdeadbeef, 0x1_0000_0002, TYPE_DATA_CSUM_PARTIAL);
  strictEqual(hex(h), "02123456deadbeef0000000100000002");
  deepStrictEqual({
    type: headerType(h),
    vni: headerVni(h),
    index: headerIndex(h),
    seq: headerSeq(h),
  }, {
    type: 2,
    vni: 0x123456,
    index: 0xdeadbeef,
    seq: 0x1_0000_0002,
  });
  writeHeader(h, 7, 1, Number.MAX_SAFE_INTEGER);
  strictEqual(hex(h), "0100000700000001001fffffffffffff");
  strictEqual(headerSeq(h), Number.MAX_SAFE_INTEGER);
  h.set([0, 0x20, 0, 0], 8); // 2^53 and beyond: no honest sender, read as 0 (never valid)
  strictEqual(headerSeq(h), 0);
  const n = new Uint8Array(12);
  writeNonce(n, 1, 0x2_0000_0003);
  strictEqual(hex(n), "000000010000000200000003");
});
