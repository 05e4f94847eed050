import { deepStrictEqual } from "node:assert";
import type { Edge } from "./graph.ts";
import { computeRoutes, type RelayPolicy, type Route } from "./routes.ts";

const e = (
  a: string,
  b: string,
  rttMs: number | null = null,
  state: Edge["state"] = "direct",
): Edge => ({
  a,
  b,
  state,
  rttMs,
  why: null,
});

function routes(
  edges: Edge[],
  peers: string[],
  policy: [string, RelayPolicy][] = [],
  self = "a",
): Route[] {
  const localUp = new Set(
    edges.filter((x) => x.state === "direct" && (x.a === self || x.b === self)).map((x) =>
      x.a === self ? x.b : x.a
    ),
  );
  return computeRoutes({ self, peers, localUp, edges, policy: new Map(policy) });
}

const summary = (rs: Route[]) =>
  rs.map((r) =>
    r.kind === "via" ? `${r.peer} via ${r.path.slice(1, -1).join(">")}` : `${r.peer} ${r.kind}`
  );

Deno.test("direct sessions are direct; the others go through the shortest healthy path", () => {
  const edges = [
    e("a", "b"),
    e("b", "c"),
    e("c", "d"),
    e("a", "e"),
    e("e", "d"),
    e("a", "d", null, "down"),
  ];
  deepStrictEqual(summary(routes(edges, ["b", "c", "d", "e"])), [
    "b direct",
    "c via b",
    "d via e",
    "e direct",
  ]);
});

Deno.test("equal hop counts: the lower summed RTT wins, then names", () => {
  const edges = [e("a", "b", 5), e("b", "d", 5), e("a", "c", 1), e("c", "d", 1)];
  deepStrictEqual(summary(routes(edges, ["d"])), ["d via c"]);
  const tie = [e("a", "c"), e("c", "d"), e("a", "b"), e("b", "d")];
  deepStrictEqual(summary(routes(tie, ["d"])), ["d via b"]);
});

Deno.test("relayed and down edges carry nothing", () => {
  const edges = [e("a", "b"), e("b", "c", null, "relayed"), e("a", "c", null, "down")];
  const [r] = routes(edges, ["c"]);
  deepStrictEqual(r.kind, "unreachable");
});

Deno.test("relay: false keeps a box from forwarding, and status says so", () => {
  const edges = [e("a", "b"), e("b", "c")];
  const [r] = routes(edges, ["c"], [["b", { relay: false, relays: null }]]);
  deepStrictEqual(r, {
    peer: "c",
    kind: "unreachable",
    why: "no direct session; paths need b, which has relay: false",
  });
});

Deno.test("relays: [...] on either end limits who carries the pair", () => {
  const edges = [e("a", "b"), e("b", "d"), e("a", "c"), e("c", "d")];
  deepStrictEqual(summary(routes(edges, ["d"], [["d", { relay: true, relays: ["c"] }]])), [
    "d via c",
  ]);
  deepStrictEqual(summary(routes(edges, ["d"], [["a", { relay: true, relays: ["c"] }]])), [
    "d via c",
  ]);
  const [r] = routes(edges, ["d"], [["a", { relay: true, relays: ["b"] }], ["d", {
    relay: true,
    relays: ["c"],
  }]]);
  deepStrictEqual(
    r.kind === "unreachable" ? r.why : r.kind,
    "no direct session; paths need b, not in the relays: lists of a or d",
  );
});

Deno.test("a split fleet: the far part is unreachable, and why", () => {
  const edges = [e("a", "b"), e("c", "d")];
  const rs = routes(edges, ["b", "c", "d", "x"]);
  deepStrictEqual(
    rs.map((r) => r.kind === "unreachable" ? `${r.peer}: ${r.why}` : `${r.peer} ${r.kind}`),
    [
      "b direct",
      "c: no direct session; c is in a part of the fleet this box's part does not reach",
      "d: no direct session; d is in a part of the fleet this box's part does not reach",
      "x: no direct session; no box reports a session with x",
    ],
  );
});

Deno.test("ten boxes on a ring: every box reaches every other, the long way when needed", () => {
  const names = Array.from({ length: 10 }, (_, i) => `n${i}`);
  const edges = names.map((n, i) => e(n, names[(i + 1) % 10]));
  for (const self of names) {
    const rs = routes(edges, names.filter((n) => n !== self), [], self);
    const far = rs.filter((r) => r.kind === "unreachable");
    deepStrictEqual(far, []);
    const longest = Math.max(...rs.map((r) => r.kind === "unreachable" ? 0 : r.path.length - 1));
    deepStrictEqual(longest, 5);
  }
});
