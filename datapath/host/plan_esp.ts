/**
 * ESP for fast-datapath peers: an SA per direction (new ones added before old ones go, so a
 * rekey never drops a packet) and a policy per direction with a stable reqid (so policies never
 * change when keys do). Only SAs and policies whose reqid lies in our range are touched.
 *
 * @module
 */

import type { DesiredHost, ObservedHost, ObservedPolicy, ObservedSa } from "./desired.ts";
import { type Change, ipChange } from "./change.ts";
import { ownsReqid, policyArgs, reqidFor, SA_KEY_ARG, saArgs, saDeleteArgs } from "./xfrm_args.ts";

/** ESP changes: `add` runs before any VXLAN is up, `remove` in the cleanup phase. */
export interface EspPlan {
  add: Change[];
  remove: Change[];
}

/** SAs then policies to add; stale policies then their SAs to remove. Throws on SPI clashes. */
export function planEsp(desired: DesiredHost, observed: ObservedHost): EspPlan {
  const sas = planSas(desired, observed);
  const pols = planPolicies(desired, observed);
  return { add: [...sas.add, ...pols.add], remove: [...pols.remove, ...sas.remove] };
}

/** The one way one of our policies is removed (replace, stale, `down`). */
export function removePolicy(p: ObservedPolicy, fallbackPort: number, why: string): Change {
  const dir = p.dir === "fwd" ? "in" : p.dir;
  return ipChange(
    "xfrm-policy",
    `${why} policy ${p.src} ${p.dst} ${p.dir}`,
    policyArgs("delete", p.src, p.dst, dir, p.dport ?? fallbackPort, p.reqid),
  );
}

/** The one way one of our SAs is removed (rekey, stale, `down`). */
export function removeSa(s: ObservedSa, why: string): Change {
  return ipChange(
    "xfrm-state",
    `${why} SA ${s.src} -> ${s.dst} spi 0x${s.spi.toString(16)}`,
    saDeleteArgs(s.src, s.dst, s.spi),
  );
}

function planSas(desired: DesiredHost, observed: ObservedHost): EspPlan {
  const spis = new Set<string>(); // "dst spi": the kernel's key for an inbound SA
  const want = new Map<string, string[]>(); // "src dst spi" -> args
  for (const e of desired.esp) {
    const dirs = [["out", e.local, e.remote, e.out], ["in", e.remote, e.local, e.in]] as const;
    for (const [dir, src, dst, sa] of dirs) {
      const key = `${dst} ${sa.spi}`;
      if (spis.has(key)) {
        throw new Error(`SPI 0x${sa.spi.toString(16)} towards ${dst} would be used twice`);
      }
      spis.add(key);
      want.set(`${src} ${dst} ${sa.spi}`, saArgs(src, dst, sa.spi, reqidFor(e.peer, dir), sa.key));
    }
  }
  const ours = observed.sas.filter((s) => ownsReqid(s.reqid));
  for (const s of ours) {
    if (spis.has(`${s.dst} ${s.spi}`) && !want.has(`${s.src} ${s.dst} ${s.spi}`)) {
      throw new Error(`SPI 0x${s.spi.toString(16)} towards ${s.dst} is already in use`);
    }
  }
  const have = new Set(ours.map((s) => `${s.src} ${s.dst} ${s.spi}`));
  const add: Change[] = [];
  for (const [k, args] of want) {
    if (have.has(k)) continue;
    const [src, dst, spi] = k.split(" ");
    add.push(
      ipChange("xfrm-state", `ESP SA ${src} -> ${dst} spi 0x${Number(spi).toString(16)}`, args, [
        SA_KEY_ARG,
      ]),
    );
  }
  const remove = ours
    .filter((s) => !want.has(`${s.src} ${s.dst} ${s.spi}`))
    .map((s) => removeSa(s, "remove old"));
  return { add, remove };
}

function planPolicies(desired: DesiredHost, observed: ObservedHost): EspPlan {
  const port = desired.vxlanPort;
  const want = new Map<string, { reqid: number; args: string[] }>();
  for (const e of desired.esp) {
    for (
      const [dir, src, dst] of [["out", e.local, e.remote], ["in", e.remote, e.local]] as const
    ) {
      const reqid = reqidFor(e.peer, dir);
      want.set(`${src} ${dst} ${dir}`, {
        reqid,
        args: policyArgs("add", src, dst, dir, port, reqid),
      });
    }
  }
  const have = new Map<string, ObservedPolicy>();
  for (const p of observed.policies) {
    if (ownsReqid(p.reqid)) have.set(`${p.src} ${p.dst} ${p.dir}`, p);
  }
  const add: Change[] = [];
  for (const [k, { reqid, args }] of want) {
    const h = have.get(k);
    if (h && h.reqid === reqid && h.dport === port) continue;
    if (h) add.push(removePolicy(h, port, "replace"));
    add.push(ipChange("xfrm-policy", `policy ${k}: VXLAN through ESP`, args));
  }
  // Stale policies of peers no longer fast go before their SAs (their FDB entries go in the
  // cleanup phase too, after the late phase).
  const remove = [...have].filter(([k]) => !want.has(k)).map(([, p]) =>
    removePolicy(p, port, "remove")
  );
  return { add, remove };
}
