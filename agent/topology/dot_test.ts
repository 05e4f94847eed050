import { ok, strictEqual } from "node:assert";
import { dotId, renderDot } from "./dot.ts";
import type { Edge } from "./graph.ts";

const edges: Edge[] = [
  { a: "core-1", b: "edge-1", state: "direct", rttMs: 0.42, why: null },
  { a: "core-1", b: "edge-2", state: "punched", rttMs: 12, why: null },
  { a: "edge-1", b: "edge-2", state: "relayed", rttMs: null, why: null },
  { a: "edge-2", b: "edge-3", state: "down", rttMs: null, why: "refused" },
];
const peers = ["core-1", "edge-1", "edge-2", "edge-3", "lonely"];

Deno.test("renderDot: one node per peer, edges styled by state, RTT labels", () => {
  const dot = renderDot("core-1", peers, edges);
  for (const p of peers) ok(dot.includes(`  "${p}"`), `node ${p} missing in\n${dot}`);
  ok(dot.includes(`"core-1" [peripheries=2]`), dot);
  ok(dot.includes(`"core-1" -- "edge-1" [style=solid color="#2b7a2b" label="direct 0.4 ms"]`), dot);
  ok(dot.includes(`"edge-1" -- "edge-2" [style=dashed color="#8a6d00" label="relayed"]`), dot);
  ok(dot.includes(`"edge-2" -- "edge-3" [style=dotted color="#c0392b" label="down"]`), dot);
});

Deno.test("dotId escapes quotes and backslashes", () => {
  strictEqual(dotId('a"b\\c'), '"a\\"b\\\\c"');
});

Deno.test("the real dot renders the graph, and the SVG names every peer", async () => {
  const p = new Deno.Command("dot", {
    args: ["-Tsvg"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(renderDot("core-1", peers, edges)));
  await w.close();
  const out = await p.output();
  const svg = new TextDecoder().decode(out.stdout).replaceAll("&#45;", "-");
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  for (const p of peers) ok(svg.includes(`<title>${p}</title>`), `SVG lacks node ${p}`);
  ok(svg.includes("<title>edge-1--edge-2</title>"), "SVG lacks the relayed edge");
  ok(svg.includes("stroke-dasharray"), "no dashed/dotted edge drawn");
});
