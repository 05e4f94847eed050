/**
 * The gossiped graph as Graphviz DOT (`weave-agent status --dot | dot -Tsvg > fleet.svg`): one
 * node per peer of the fleet (this box drawn double), one edge per pair some box reports,
 * styled by state and labelled with the RTT where known. Pure.
 *
 * @module
 */

import type { Edge } from "./graph.ts";
import type { LinkState } from "./record.ts";

/** Edge attributes per state: solid direct, bold blue punched, dashed relayed, dotted red down. */
export const EDGE_STYLE: Record<LinkState, string> = {
  direct: 'style=solid color="#2b7a2b"',
  punched: 'style=bold color="#1f5fbf"',
  relayed: 'style=dashed color="#8a6d00"',
  down: 'style=dotted color="#c0392b"',
};

/** A DOT double-quoted ID; names are validated peer names, but quote and escape anyway. */
export function dotId(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Renders the graph as seen from `self`. */
export function renderDot(self: string, peers: readonly string[], edges: readonly Edge[]): string {
  const lines = [
    "graph weave {",
    "  graph [overlap=false];",
    "  node [shape=box style=rounded];",
  ];
  for (const p of peers) {
    lines.push(`  ${dotId(p)}${p === self ? " [peripheries=2]" : ""};`);
  }
  for (const e of edges) {
    const label = [
      e.state === "down" ? "down" : e.state,
      e.rttMs !== null ? `${e.rttMs.toFixed(1)} ms` : null,
    ]
      .filter((x) => x !== null).join(" ");
    lines.push(`  ${dotId(e.a)} -- ${dotId(e.b)} [${EDGE_STYLE[e.state]} label=${dotId(label)}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
