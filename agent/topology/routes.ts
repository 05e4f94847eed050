/**
 * Route computation over the gossiped graph: for each peer, `direct` when this box has a healthy
 * session with it, else the shortest healthy path through relays (fewest hops, then lowest
 * summed RTT, then names: every box computes the same answer from the same graph), else
 * `unreachable` with why. Pure.
 *
 * Who may relay: a box with `relay: false` forwards for nobody; a box with `relays: [...]` lets
 * only those boxes carry its traffic (it applies at both ends of a path).
 *
 * @module
 */

import type { Edge } from "./graph.ts";

/** Relay rules of one peer, from weave.yaml. */
export interface RelayPolicy {
  /** False: this box never forwards for others (default true). */
  relay: boolean;
  /** Only these boxes may relay this box's traffic; null: any box that relays. */
  relays: readonly string[] | null;
}

/** How this box reaches one peer. */
export type Route =
  | { peer: string; kind: "direct"; path: string[]; rttMs: number | null }
  | { peer: string; kind: "via"; via: string; path: string[]; rttMs: number | null }
  | { peer: string; kind: "unreachable"; why: string };

/** The default policy of a peer the config says nothing about. */
export const OPEN_RELAY_POLICY: RelayPolicy = { relay: true, relays: null };

/**
 * Edges that carry relayed control sessions: direct sessions both ends report up. A relayed
 * pair does not count, nor a punched one (#16: only its sleeve datagrams go straight; its
 * control session is relayed itself).
 */
function healthy(e: Edge): boolean {
  return e.state === "direct";
}

interface Cost {
  hops: number;
  rtt: number;
  path: string[];
}

function better(x: Cost, y: Cost | undefined): boolean {
  if (!y) return true;
  if (x.hops !== y.hops) return x.hops < y.hops;
  if (x.rtt !== y.rtt) return x.rtt < y.rtt;
  return x.path.join("\n") < y.path.join("\n");
}

/**
 * Shortest healthy paths from `from` to every node it reaches, inner nodes satisfying
 * `mayRelay`. Dijkstra on (hops, rtt, path) with a plain scan for the minimum: O(V² + E), run
 * once per relay-policy group of destinations (see `computeRoutes`), not once per peer.
 */
function shortestPaths(
  adjacency: ReadonlyMap<string, ReadonlyMap<string, number>>,
  from: string,
  mayRelay: (node: string) => boolean,
): Map<string, Cost> {
  const best = new Map<string, Cost>([[from, { hops: 0, rtt: 0, path: [from] }]]);
  const done = new Set<string>();
  while (true) {
    let cur: string | null = null;
    for (const [n, c] of best) {
      if (!done.has(n) && (cur === null || better(c, best.get(cur)))) cur = n;
    }
    if (cur === null) return best;
    done.add(cur);
    // A node that may not relay is still reached; only paths through it are not taken.
    if (cur !== from && !mayRelay(cur)) continue;
    const c = best.get(cur)!;
    for (const [n, rtt] of adjacency.get(cur) ?? []) {
      if (done.has(n)) continue;
      const next = { hops: c.hops + 1, rtt: c.rtt + rtt, path: [...c.path, n] };
      if (better(next, best.get(n))) best.set(n, next);
    }
  }
}

/** Shortest healthy path from `from` to `to` whose inner nodes satisfy `mayRelay`; null if none. */
export function shortestPath(
  adjacency: ReadonlyMap<string, ReadonlyMap<string, number>>,
  from: string,
  to: string,
  mayRelay: (node: string) => boolean,
): Cost | null {
  return shortestPaths(adjacency, from, mayRelay).get(to) ?? null;
}

/** Adjacency of the healthy edges, RTT as weight (0 when unknown). */
export function adjacencyOf(edges: readonly Edge[]): Map<string, Map<string, number>> {
  const adj = new Map<string, Map<string, number>>();
  const add = (x: string, y: string, w: number) => {
    if (!adj.has(x)) adj.set(x, new Map());
    adj.get(x)!.set(y, w);
  };
  for (const e of edges) {
    if (!healthy(e)) continue;
    add(e.a, e.b, e.rttMs ?? 0);
    add(e.b, e.a, e.rttMs ?? 0);
  }
  return adj;
}

/** Everything `computeRoutes` reads. */
export interface RouteInput {
  self: string;
  /** Every other peer of the fleet, in config order. */
  peers: readonly string[];
  /** This box's own healthy sessions (what it knows first-hand, before any gossip). */
  localUp: ReadonlySet<string>;
  edges: readonly Edge[];
  /** Relay rules by peer name; a peer missing here has `OPEN_RELAY_POLICY`. */
  policy: ReadonlyMap<string, RelayPolicy>;
}

/** A route for every peer. */
export function computeRoutes(input: RouteInput): Route[] {
  const adj = adjacencyOf(input.edges);
  const pol = (n: string) => input.policy.get(n) ?? OPEN_RELAY_POLICY;
  // Who may relay depends on the destination only through its `relays:` list, so peers with
  // the same list share one tree (all of them, where the fleet sets none).
  const trees = new Map<string, Map<string, Cost>>();
  const treeFor = (peer: string) => {
    const key = JSON.stringify(pol(peer).relays);
    let t = trees.get(key);
    if (!t) {
      const ends = [pol(input.self).relays, pol(peer).relays];
      const allowed = (n: string) => pol(n).relay && ends.every((l) => l === null || l.includes(n));
      t = shortestPaths(adj, input.self, allowed);
      trees.set(key, t);
    }
    return t;
  };
  return input.peers.map((peer): Route => {
    if (input.localUp.has(peer)) {
      return {
        peer,
        kind: "direct",
        path: [input.self, peer],
        rttMs: adj.get(input.self)?.get(peer) ?? null,
      };
    }
    const found = treeFor(peer).get(peer);
    if (found && found.hops >= 2) {
      return { peer, kind: "via", via: found.path[1], path: found.path, rttMs: found.rtt || null };
    }
    return { peer, kind: "unreachable", why: unreachableWhy(input, adj, peer, pol) };
  });
}

/** Why no route: a policy that forbids the only paths, or no path at all (and what is known). */
function unreachableWhy(
  input: RouteInput,
  adj: Map<string, Map<string, number>>,
  peer: string,
  pol: (n: string) => RelayPolicy,
): string {
  const any = shortestPath(adj, input.self, peer, () => true);
  const down = input.edges.find((e) =>
    (e.a === input.self && e.b === peer) || (e.b === input.self && e.a === peer)
  );
  const direct = `no direct session${down?.why ? ` (${down.why})` : ""}`;
  if (any && any.hops >= 2) {
    const inner = any.path.slice(1, -1);
    const refusing = inner.filter((n) => !pol(n).relay);
    if (refusing.length) {
      return `${direct}; paths need ${refusing.join(", ")}, which has relay: false`;
    }
    return `${direct}; paths need ${
      inner.join(", ")
    }, not in the relays: lists of ${input.self} or ${peer}`;
  }
  if (!adj.has(peer)) return `${direct}; no box reports a session with ${peer}`;
  return `${direct}; ${peer} is in a part of the fleet this box's part does not reach`;
}
