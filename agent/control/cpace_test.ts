/**
 * CPace known-answer tests: every intermediate the draft's appendix gives for
 * CPACE-X25519-SHA512 (draft-irtf-cfrg-cpace, "Test vectors", as in the CFRG repository
 * cfrg/draft-irtf-cfrg-cpace at 8fb4056, testvectors.json "G_25519" and "X25519_points"), the
 * string-utility vectors, the low-order points of scalar_mult_vfy; then random instances
 * recomputed by an independent implementation (tests/tools/cpace_ref.py: hashlib,
 * python3-cryptography X25519, Elligator 2 by the draft's Legendre-symbol formula).
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { hex, unhex } from "../../tests/lab/openssl.ts";
import {
  calculateGenerator,
  elligator2,
  encodeUCoordinate,
  generatorSteps,
  IDENTITY,
  isIdentity,
  iskIr,
  iskOc,
  isLowOrderU,
  lexicographicallyLarger,
  lvCat,
  oCat,
  prependLen,
  scalarMult,
  scalarMultVfy,
  sidOutput,
  transcriptIr,
  transcriptOc,
} from "./cpace.ts";
import { pythonJson } from "../../tests/tools/python_ref.ts";
import { forceX25519Backend, X25519_BACKENDS } from "./x25519.ts";

const te = new TextEncoder();
const h = (s: string) => unhex(s.replace(/\s+/g, "").toLowerCase());

/** The draft's vector for G_X25519 with SHA-512 (appendix "Test vectors"). */
const V = {
  PRS: h("50617373776F7264"),
  CI: h("0B415F696E69746961746F720B425F726573706F6E646572"),
  sid: h("7E4B4791D6A8EF019B936C79FB7F2C57"),
  generatorString: h(`
    0843506163653235350850617373776f72646d000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000180b415f696e69746961746f
    720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
    2c57`),
  hash: h("03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed1d3"),
  decoded: h("03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed153"),
  g: h("D04BF6D41F6A289632A2E929FA29BEBD51092512A7829FDDE7D314B62F05A73F"),
  ya: h("21B4F4BD9E64ED355C3EB676A28EBEDAF6D8F17BDC365995B319097153044080"),
  ADa: h("414461"),
  Ya: h("1D13C89278CDADD826F6D8D7F887701430F8380DDC17611CDD6DC989CE0C9F32"),
  yb: h("848B0779FF415F0AF4EA14DF9DD1D3C29AC41D836C7808896C4EBA19C51AC40A"),
  ADb: h("414462"),
  Yb: h("248CCCF6D5CDC3646F0AD593F9E6CEF4E69D4945F8372E623512ECEA32185623"),
  K: h("5B067EFFBDC0B2A0E1D907B21EBB25CFEDB96A852179A847C37E43EE71322C6B"),
  transcriptIr: h(`
    201d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc9
    89ce0c9f320341446120248cccf6d5cdc3646f0ad593f9e6cef4e69d
    4945f8372e623512ecea3218562303414462`),
  transcriptOc: h(`
    6f6320248cccf6d5cdc3646f0ad593f9e6cef4e69d4945f8372e6235
    12ecea3218562303414462201d13c89278cdadd826f6d8d7f8877014
    30f8380ddc17611cdd6dc989ce0c9f3203414461`),
  iskIr: h(`6E19B875F7A561D6B3CA3DBB9EF42AC55DE3E717881018204B8922B4D5E53BB2AA82C300BEA7B65D2B671DA7
    1922DDF6472301B79BC270ADFA8BF413285F2263`),
  iskSy: h(`EEF745E2F6E7AE2B1A1E53DA340E777167A07FE150436648C51FB199C11F3CBABFC683A2B48E1AF5881940DC
    398D375C95E6B4AE9948A45B8770DE0656382BE4`),
  sidOutputIr: h(
    `CBC73F62589BBC96AB6A95EC2363DF621E93BC3B0CEA83BA6B9571D005FA8F5D2D08F7165622777FA484C0
    2A9E6B20A84EE2DBEBAE8C53BE757DCFC0EEBDEB5F`,
  ),
  sidOutputOc: h(
    `3A504E9C7F1F7FA7314861E2C487D13F28566F3043F0CA760D22C4911ACA0DD8B1F12A7AD0862EB92D08A7
    6120140412AE6B8322E99D75CF1D20D8CFDE2B40FE`,
  ),
};

Deno.test("CPace string utilities: prepend_len, lv_cat, o_cat, transcripts as the draft's vectors", () => {
  strictEqual(hex(prependLen(new Uint8Array(0))), "00");
  strictEqual(hex(prependLen(te.encode("1234"))), "0431323334");
  const r127 = new Uint8Array(127).map((_, i) => i);
  const r128 = new Uint8Array(128).map((_, i) => i);
  strictEqual(hex(prependLen(r127)), "7f" + hex(r127));
  strictEqual(hex(prependLen(r128)), "8001" + hex(r128));
  // Beyond the draft's vectors: a two-byte length in LEB128 (300 = 0xac 0x02).
  strictEqual(hex(prependLen(new Uint8Array(300)).subarray(0, 2)), "ac02");
  strictEqual(
    hex(lvCat(te.encode("1234"), te.encode("5"), new Uint8Array(0), te.encode("678"))),
    "043132333401350003363738",
  );
  const larger = (a: string, b: string) =>
    lexicographicallyLarger(
      te.encode(a.replaceAll("0", "\0").replaceAll("1", "\x01")),
      te.encode(
        b.replaceAll("0", "\0").replaceAll("1", "\x01"),
      ),
    );
  deepStrictEqual(
    [larger("0", "00"), larger("1", "00"), larger("00", "0"), larger("00", "1"), larger("01", "1")],
    [false, true, true, false, false],
  );
  strictEqual(lexicographicallyLarger(te.encode("ABCD"), te.encode("BCD")), false);
  strictEqual(hex(oCat(te.encode("ABCD"), te.encode("BCD"))), "6f6342434441424344");
  strictEqual(hex(oCat(te.encode("BCD"), te.encode("ABCDE"))), "6f634243444142434445");
  const [a, pa, b, pb] = ["123", "PartyA", "234", "PartyB"].map((s) => te.encode(s));
  strictEqual(hex(transcriptIr(a, pa, b, pb)), "03313233065061727479410332333406506172747942");
  strictEqual(hex(transcriptOc(a, pa, b, pb)), "6f6303323334065061727479420331323306506172747941");
  const [c, d] = ["3456", "2345"].map((s) => te.encode(s));
  strictEqual(
    hex(transcriptIr(c, pa, d, pb)),
    "043334353606506172747941043233343506506172747942",
  );
  strictEqual(
    hex(transcriptOc(c, pa, d, pb)),
    "6f63043334353606506172747941043233343506506172747942",
  );
});

Deno.test("CPace calculate_generator: generator string, its hash, the decoded field element, g", () => {
  const s = generatorSteps(V.PRS, V.CI, V.sid);
  strictEqual(s.generatorString.length, 170);
  strictEqual(hex(s.generatorString), hex(V.generatorString));
  strictEqual(hex(s.hash), hex(V.hash));
  strictEqual(hex(s.decoded), hex(V.decoded));
  strictEqual(hex(s.g), hex(V.g));
  strictEqual(hex(calculateGenerator(V.PRS, V.CI, V.sid)), hex(V.g));
});

/** The draft's vectors that go through X25519 run on each implementation of it (x25519.ts). */
function onEachX25519(name: string, fn: () => void) {
  for (const backend of X25519_BACKENDS) {
    Deno.test(`${name} (X25519 on ${backend})`, () => {
      forceX25519Backend(backend);
      try {
        fn();
      } finally {
        forceX25519Backend(null);
      }
    });
  }
}

onEachX25519(
  "CPace messages, K and ISK (initiator-responder and parallel) as the draft's vectors",
  () => {
    const ya = scalarMult(V.ya, V.g), yb = scalarMult(V.yb, V.g);
    strictEqual(hex(ya), hex(V.Ya));
    strictEqual(hex(yb), hex(V.Yb));
    const kA = scalarMultVfy(V.ya, V.Yb), kB = scalarMultVfy(V.yb, V.Ya);
    strictEqual(hex(kA), hex(V.K));
    strictEqual(hex(kB), hex(V.K));
    strictEqual(hex(transcriptIr(V.Ya, V.ADa, V.Yb, V.ADb)), hex(V.transcriptIr));
    strictEqual(hex(transcriptOc(V.Ya, V.ADa, V.Yb, V.ADb)), hex(V.transcriptOc));
    strictEqual(hex(iskIr(V.sid, V.K, V.Ya, V.ADa, V.Yb, V.ADb)), hex(V.iskIr));
    strictEqual(hex(iskOc(V.sid, V.K, V.Ya, V.ADa, V.Yb, V.ADb)), hex(V.iskSy));
    strictEqual(hex(sidOutput(V.transcriptIr)), hex(V.sidOutputIr));
    strictEqual(hex(sidOutput(V.transcriptOc)), hex(V.sidOutputOc));
  },
);

onEachX25519("CPace scalar_mult_vfy: the draft's low-order and non-canonical points u0..ub", () => {
  const s = h("af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff");
  const cases: [string, string][] = [
    ["0000000000000000000000000000000000000000000000000000000000000000", "00"],
    ["0100000000000000000000000000000000000000000000000000000000000000", "00"],
    ["ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "00"],
    ["e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", "00"],
    ["5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", "00"],
    ["edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "00"],
    [
      "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806",
    ],
    ["eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "00"],
    [
      "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38",
    ],
    [
      "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456",
    ],
    [
      "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
      "e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a",
    ],
    [
      "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
      "993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175",
    ],
  ];
  for (const [i, [u, q]] of cases.entries()) {
    const got = scalarMultVfy(s, h(u));
    const want = q === "00" ? hex(IDENTITY) : q;
    strictEqual(`u${i.toString(16)} ${hex(got)}`, `u${i.toString(16)} ${want}`);
    // u0..u5 and u7 are the ones a party MUST abort on; they are recognised before the ladder.
    strictEqual(isIdentity(got), q === "00", `u${i}`);
    strictEqual(isLowOrderU(h(u)), q === "00", `u${i}`);
  }
});

Deno.test("CPace against an independent implementation (python: hashlib, cryptography X25519, Legendre Elligator 2)", async () => {
  const cases = Array.from({ length: 6 }, (_, i) => ({
    prs: crypto.getRandomValues(new Uint8Array(i * 23 + 1)),
    ci: crypto.getRandomValues(new Uint8Array(i * 40)),
    sid: crypto.getRandomValues(new Uint8Array(64)),
    ya: crypto.getRandomValues(new Uint8Array(32)),
    yb: crypto.getRandomValues(new Uint8Array(32)),
    ada: crypto.getRandomValues(new Uint8Array(i)),
    adb: crypto.getRandomValues(new Uint8Array(2 * i + 1)),
  }));
  // Also field elements the map must handle at the edges: 0, 1, p-1 and a few random ones.
  const us = ["0", "1", String((1n << 255n) - 20n), "12345678901234567890"];
  const ref = await pythonJson<{
    cases: { g: string; Ya: string; Yb: string; K: string; isk_ir: string; isk_oc: string }[];
    ell2: string[];
  }>("cpace_ref.py", {
    cases: cases.map((c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, hex(v)]))),
    ell2: us,
  });
  for (const [i, c] of cases.entries()) {
    const g = calculateGenerator(c.prs, c.ci, c.sid);
    const ya = scalarMult(c.ya, g), yb = scalarMult(c.yb, g);
    const k = scalarMultVfy(c.ya, yb);
    deepStrictEqual(
      {
        i,
        g: hex(g),
        Ya: hex(ya),
        Yb: hex(yb),
        K: hex(k),
        isk_ir: hex(iskIr(c.sid, k, ya, c.ada, yb, c.adb)),
        isk_oc: hex(iskOc(c.sid, k, ya, c.ada, yb, c.adb)),
      },
      { i, ...ref.cases[i] },
    );
  }
  deepStrictEqual(us.map((u) => hex(encodeUCoordinate(elligator2(BigInt(u))))), ref.ell2);
});
