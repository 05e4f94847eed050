import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { TopologyGraph } from "./graph.ts";
import { type Link, nextSeq, parseRecord, recordMessage, type TopologyRecord } from "./record.ts";

const up = (peer: string, rttMs?: number): Link => ({
  peer,
  state: "direct",
  ...(rttMs !== undefined ? { rttMs } : {}),
});
const rec = (origin: string, seq: number, links: Link[]): TopologyRecord => ({
  origin,
  seq,
  links,
});

function graphOf(records: TopologyRecord[]): TopologyGraph {
  const g = new TopologyGraph();
  for (const r of records) g.merge(r);
  return g;
}

Deno.test("merge is order independent: every permutation gives the same edges", () => {
  const records = [
    rec("a", 1, [up("b")]),
    rec("a", 3, [up("b"), up("c")]),
    rec("a", 2, []),
    rec("b", 5, [up("a"), up("c")]),
    rec("c", 7, [up("a"), up("b")]),
    rec("c", 7, [up("a")]), // same seq, other content: settled by canonical text
  ];
  const perms = (xs: TopologyRecord[]): TopologyRecord[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  const first = JSON.stringify(graphOf(records).edges());
  let n = 0;
  for (const p of perms(records)) {
    strictEqual(JSON.stringify(graphOf(p).edges()), first);
    n++;
  }
  strictEqual(n, 720);
});

Deno.test("a stale record never replaces a newer one", () => {
  const g = new TopologyGraph();
  strictEqual(g.merge(rec("a", 10, [up("b")])), "new");
  strictEqual(g.merge(rec("a", 9, [])), "stale");
  strictEqual(g.merge(rec("a", 10, [up("b")])), "stale");
  deepStrictEqual(g.record("a")?.links, [up("b")]);
});

Deno.test("an edge is up only when both ends report it; a removed link disappears", () => {
  const g = graphOf([rec("a", 1, [up("b", 2)]), rec("b", 1, [up("a", 4)])]);
  deepStrictEqual(g.edges(), [{ a: "a", b: "b", state: "direct", rttMs: 3, why: null }]);
  g.merge(rec("a", 2, []));
  deepStrictEqual(g.edges().map((e) => [e.a, e.b, e.state, e.why]), [[
    "a",
    "b",
    "down",
    "only b reports it",
  ]]);
  g.merge(rec("b", 2, []));
  deepStrictEqual(g.edges(), []);
});

Deno.test("a down link carries the origin's reason", () => {
  const g = graphOf([
    rec("a", 1, [{ peer: "b", state: "down", why: "connection refused" }]),
    rec("b", 1, [{ peer: "a", state: "down" }]),
  ]);
  deepStrictEqual(g.edges(), [{
    a: "a",
    b: "b",
    state: "down",
    rttMs: null,
    why: "connection refused",
  }]);
});

Deno.test("retain forgets origins that left the fleet", () => {
  const g = graphOf([rec("a", 1, [up("b")]), rec("b", 1, [up("a")]), rec("z", 1, [up("a")])]);
  g.retain(new Set(["a", "b"]));
  deepStrictEqual(g.records().map((r) => r.origin), ["a", "b"]);
});

Deno.test("nextSeq grows across a restart and within one millisecond", () => {
  const t = 1_764_622_179_123;
  const s1 = nextSeq(0, t);
  const s2 = nextSeq(s1, t);
  strictEqual(s2, s1 + 1);
  const afterRestart = nextSeq(0, t + 1);
  ok(afterRestart > s2, `afterRestart=${afterRestart} s2=${s2}`);
  ok(Number.isSafeInteger(nextSeq(0, 4_102_444_800_000))); // year 2100
});

const fleet = new Set(["a", "b", "c"]);

Deno.test("parseRecord round-trips a record and sorts its links", () => {
  const r = rec("a", 42, [{ peer: "c", state: "down", why: "refused" }, up("b", 1.5)]);
  const p = parseRecord(JSON.parse(JSON.stringify(recordMessage(r))), fleet);
  deepStrictEqual(p, {
    ok: true,
    record: rec("a", 42, [up("b", 1.5), { peer: "c", state: "down", why: "refused" }]),
  });
});

Deno.test("parseRecord drops bad input with a reason", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ origin: 7, seq: 1, links: [] }, "malformed"],
    [{ origin: "A B", seq: 1, links: [] }, "malformed"],
    [{ origin: "z", seq: 1, links: [] }, "unknown-origin"],
    [{ origin: "a", seq: -1, links: [] }, "malformed"],
    [{ origin: "a", seq: 1.5, links: [] }, "malformed"],
    [{ origin: "a", seq: 2 ** 60, links: [] }, "malformed"],
    [{ origin: "a", seq: 1, links: "b" }, "malformed"],
    [{ origin: "a", seq: 1, links: [null] }, "malformed"],
    [{ origin: "a", seq: 1, links: [{ peer: "b", state: "sideways" }] }, "malformed"],
    [{ origin: "a", seq: 1, links: [{ peer: "z", state: "direct" }] }, "unknown-peer"],
    [{ origin: "a", seq: 1, links: [{ peer: "a", state: "direct" }] }, "malformed"],
    [{ origin: "a", seq: 1, links: [up("b"), up("b")] }, "malformed"],
    [{ origin: "a", seq: 1, links: Array.from({ length: 1025 }, () => up("b")) }, "too-many-links"],
  ];
  for (const [body, reason] of cases) {
    const p = parseRecord({ type: "topology", ...body }, fleet);
    strictEqual(p.ok ? "accepted" : p.reason, reason, JSON.stringify(body).slice(0, 80));
  }
});

Deno.test("parseRecord bounds what it keeps: long reasons cut, absurd RTTs dropped", () => {
  const p = parseRecord({
    type: "topology",
    origin: "a",
    seq: 1,
    links: [{ peer: "b", state: "down", why: "x".repeat(5000), rttMs: 1e9 }, {
      peer: "c",
      state: "direct",
      rttMs: -1,
    }],
  }, fleet);
  if (!p.ok) throw new Error(p.detail);
  strictEqual(p.record.links[0].why?.length, 200);
  strictEqual(p.record.links[0].rttMs, undefined);
  strictEqual(p.record.links[1].rttMs, undefined);
});
