/**
 * A peer's relay rules in `peers:` (issue #16): `relay: false` keeps the box from forwarding
 * for others (default true); `relays: [core-1, core-2]` lets only those boxes carry its traffic
 * when it has no direct session (default: any box that relays). Names must be peers of the
 * fleet, not the peer itself.
 *
 * @module
 */

import { checkPeerName } from "./names.ts";
import type { ParseContext } from "./parse_context.ts";
import type { YNode } from "./yaml_reader.ts";
import { isScalar } from "./yaml.ts";

/** `relay:` as read: true or false; undefined when invalid (reported). */
export function parseRelayFlag(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): boolean | undefined {
  if (isScalar(node) && typeof node.value === "boolean") return node.value;
  ctx.report.error(
    node,
    `${where}.relay must be true or false, got ${
      JSON.stringify(isScalar(node) ? node.value : null)
    }`,
    "relay: false keeps this box from forwarding traffic for other peers",
  );
  return undefined;
}

/** `relays:` as read, with the node of each name (checked against the fleet later). */
export function parseRelayList(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): { name: string; node: YNode | null }[] | undefined {
  const items = ctx.r.list(node, `${where}.relays`, "relays: [core-1, core-2]");
  if (!items) return undefined;
  const out: { name: string; node: YNode | null }[] = [];
  let ok = true;
  for (const [i, item] of items.entries()) {
    const name = ctx.r.string(item, `${where}.relays[${i}]`, "relays: [core-1]");
    if (name === undefined) {
      ok = false;
      continue;
    }
    const problem = checkPeerName(name);
    if (problem) {
      ctx.report.error(item, problem.message, problem.hint);
      ok = false;
      continue;
    }
    out.push({ name, node: item });
  }
  return ok ? out : undefined;
}

/** Every `relays:` name is another peer of the fleet; false when one is not (reported). */
export function checkRelayNames(
  ctx: ParseContext,
  self: string | undefined,
  relays: { name: string; node: YNode | null }[] | undefined,
  names: ReadonlySet<string>,
): boolean {
  let ok = true;
  for (const r of relays ?? []) {
    if (r.name === self) {
      ctx.report.error(r.node, `peer "${self}" lists itself in relays`, "list other peers only");
      ok = false;
    } else if (!names.has(r.name)) {
      ctx.report.error(
        r.node,
        `relays names "${r.name}", which is not a peer`,
        `use a name from peers: ${[...names].join(", ")}`,
      );
      ok = false;
    }
  }
  return ok;
}
