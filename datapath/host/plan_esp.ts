/**
 * ESP for fast-datapath peers: an SA per direction (new ones added before old ones go, so a
 * rekey never drops a packet) and a policy per direction with a stable reqid (so policies never
 * change when keys do). Only SAs and policies whose reqid lies in our range are touched.
 *
 * A rekey (#14) walks three desired states, each one plan: (1) the new inbound SA beside the
 * old (`extraIn`); (2) the switch: the new outbound SA is added (add phase) and the old one
 * removed (cleanup phase), the peer accepting both by then; (3) the old inbound SA removed.
 * New SPIs come with every new key (`control/key_schedule.ts`), so no SA is ever updated to
 * another key: a key change is always an add and a delete.
 *
 * @module
 */

import type { DesiredHost, ObservedHost, ObservedPolicy, ObservedSa } from "./desired.ts";
import { type Change, ipChange } from "./change.ts";
import {
  ESP_SA_HARD_LIFETIME_S,
  hex,
  ownsReqid,
  policyArgs,
  reqidFor,
  SA_KEY_ARG,
  saArgs,
  saDeleteArgs,
} from "./xfrm_args.ts";

/** ESP changes: `add` runs before any VXLAN is up, `remove` in the cleanup phase. */
export interface EspPlan {
  add: Change[];
  remove: Change[];
}

/** SAs then policies to add; stale policies then their SAs to remove. Throws when desired reuses an SPI. */
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

/** One SA we want: its kernel identity, the add arguments and its lifetime. */
interface WantedSa {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  key: Uint8Array;
  hard: number;
}

/**
 * A live agent renews an SA once less than half its lifetime is left: with reconcile passes far
 * shorter than that, a wanted SA never expires, and an unwanted one dies at most `hard` seconds
 * after the agent stopped.
 */
function renewal(w: WantedSa, have: ObservedSa, now: number | undefined): number | null {
  if (now === undefined || have.addedAt == null || have.hardSeconds == null) return null;
  const age = Math.max(0, now - have.addedAt);
  const left = have.hardSeconds === 0 ? Infinity : have.hardSeconds - age;
  if (have.hardSeconds !== 0 && left >= w.hard / 2) return null;
  return Math.ceil(age) + w.hard;
}

function wantedSas(desired: DesiredHost): Map<string, WantedSa> {
  const spis = new Set<string>(); // "dst spi": the kernel's key for an SA
  const want = new Map<string, WantedSa>(); // "src dst spi"
  for (const e of desired.esp) {
    const hard = e.hardLifetimeSeconds ?? ESP_SA_HARD_LIFETIME_S;
    const dirs = [
      ["out", e.local, e.remote, e.out],
      ["in", e.remote, e.local, e.in],
      ...(e.extraIn ?? []).map((sa) => ["in", e.remote, e.local, sa] as const),
    ] as const;
    for (const [dir, src, dst, sa] of dirs) {
      if (spis.has(`${dst} ${sa.spi}`)) {
        throw new Error(`SPI 0x${sa.spi.toString(16)} towards ${dst} would be used twice`);
      }
      spis.add(`${dst} ${sa.spi}`);
      want.set(`${src} ${dst} ${sa.spi}`, {
        src,
        dst,
        spi: sa.spi,
        reqid: reqidFor(e.peer, dir),
        key: sa.key,
        hard,
      });
    }
  }
  return want;
}

function planSas(desired: DesiredHost, observed: ObservedHost): EspPlan {
  const want = wantedSas(desired);
  const ours = observed.sas.filter((s) => ownsReqid(s.reqid));
  const have = new Map(ours.map((s) => [`${s.src} ${s.dst} ${s.spi}`, s]));
  const add: Change[] = [];
  const early = new Set<ObservedSa>();
  for (const [k, w] of want) {
    const h = have.get(k);
    if (h && h.keyHex !== null && h.keyHex !== hex(w.key)) {
      // Same SA identity, another key (an old session's SPI repeated by a 2^-32 chance, or
      // someone else's SA): the old one goes before the new key is added, never beside it.
      early.add(h);
      add.push(removeSa(h, "replace (another key)"));
    } else if (h) {
      const hard = renewal(w, h, observed.observedAt);
      if (hard !== null) {
        add.push(ipChange(
          "xfrm-state",
          `renew SA ${w.src} -> ${w.dst} spi 0x${w.spi.toString(16)} (hard ${hard} s from its add)`,
          saArgs(w.src, w.dst, w.spi, w.reqid, w.key, hard, "update"),
          [SA_KEY_ARG],
        ));
      }
      continue;
    }
    // A stale SA with this destination and SPI (an old session's, by a 2^-32 chance): it goes
    // first, so the new key never meets an SPI the kernel already holds with another key.
    for (const s of ours) {
      if (s.dst === w.dst && s.spi === w.spi && !early.has(s)) {
        early.add(s);
        add.push(removeSa(s, "make room: SPI clash with an old"));
      }
    }
    add.push(ipChange(
      "xfrm-state",
      `ESP SA ${w.src} -> ${w.dst} spi 0x${w.spi.toString(16)}`,
      saArgs(w.src, w.dst, w.spi, w.reqid, w.key, w.hard),
      [SA_KEY_ARG],
    ));
  }
  const remove = ours
    .filter((s) => !want.has(`${s.src} ${s.dst} ${s.spi}`) && !early.has(s))
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
