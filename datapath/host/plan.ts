/**
 * The host planner: `planHost(desired, observed)` returns the minimal, safely ordered list of
 * changes that turns what the kernel has into what the agent wants. Pure: no I/O, so it is
 * golden-tested, and `weave-agent plan` prints exactly what reconcile would run.
 *
 * Only objects the agent owns are ever touched: links named `wv[btx]-*`, xfrm SAs and policies
 * whose reqid lies in our range, our nft table.
 *
 * @module
 */

import { bridgeName, isOwnedLink, tapName, vxlanName } from "../link_names.ts";
import type { DesiredEspPair, DesiredHost, ObservedHost, ObservedLink } from "./desired.ts";

/** xfrm reqids the agent owns: 0x57560000 ("WV") and up. */
export const REQID_BASE = 0x57560000;
export const REQID_SPAN = 0x10000;

/** Our nft table holding the ESP guard. */
export const NFT_TABLE = "weave_agent";

/** One change: the exact command that applies it. */
export interface Change {
  /** What kind of object changes, for grouping and display. */
  kind:
    | "link"
    | "address"
    | "fdb"
    | "xfrm-state"
    | "xfrm-policy"
    | "nft";
  description: string;
  tool: "ip" | "bridge" | "nft";
  /** For ip/bridge: the batch line's words. For nft: the script text in args[0]. */
  args: string[];
  /** Indices of args that hold key material (redacted when printed). */
  secretArgs?: number[];
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Reqids per peer: stable across rekeys (so policies never change when keys do). */
export function reqidFor(peer: string, dir: "out" | "in"): number {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(peer)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return REQID_BASE + ((h % (REQID_SPAN / 2)) * 2) + (dir === "out" ? 0 : 1);
}

/** Reqid is ours. */
export function ownsReqid(reqid: number): boolean {
  return reqid >= REQID_BASE && reqid < REQID_BASE + REQID_SPAN;
}

function hostPrefix(addr: string): string {
  return addr.includes(":") ? `${addr}/128` : `${addr}/32`;
}

/** The ESP guard: VXLAN from a fast-datapath peer must have come through ESP. */
export function nftGuard(desired: DesiredHost): string | null {
  if (desired.esp.length === 0) return null;
  const v4 = desired.esp.filter((e) => !e.remote.includes(":")).map((e) => e.remote).sort();
  const v6 = desired.esp.filter((e) => e.remote.includes(":")).map((e) => e.remote).sort();
  const rules: string[] = [];
  if (v4.length) {
    rules.push(
      `    ip saddr { ${
        v4.join(", ")
      } } udp dport ${desired.vxlanPort} meta ipsec missing counter drop`,
    );
  }
  if (v6.length) {
    rules.push(
      `    ip6 saddr { ${
        v6.join(", ")
      } } udp dport ${desired.vxlanPort} meta ipsec missing counter drop`,
    );
  }
  return [
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    ...rules,
    "  }",
  ].join("\n");
}

/** `xfrm state add` of an ESP SA exactly as reconcile runs it (the kernel probe uses it too). */
export function saArgs(
  src: string,
  dst: string,
  spi: number,
  reqid: number,
  key: Uint8Array,
): string[] {
  return [
    "xfrm",
    "state",
    "add",
    "src",
    src,
    "dst",
    dst,
    "proto",
    "esp",
    "spi",
    spiHex(spi),
    "reqid",
    String(reqid),
    "mode",
    "transport",
    "replay-window",
    "256",
    "flag",
    "esn",
    "aead",
    "rfc4106(gcm(aes))",
    `0x${hex(key)}`,
    "128",
  ];
}
const SA_KEY_ARG = 21;

/** `xfrm state delete` of one of our SAs. */
function saDeleteArgs(src: string, dst: string, spi: number): string[] {
  return ["xfrm", "state", "delete", "src", src, "dst", dst, "proto", "esp", "spi", spiHex(spi)];
}

function spiHex(spi: number): string {
  return `0x${spi.toString(16).padStart(8, "0")}`;
}

/** `xfrm policy add|delete` for VXLAN between two hosts (the kernel probe uses it too). */
export function policyArgs(
  verb: "add" | "delete",
  src: string,
  dst: string,
  dir: "in" | "out",
  port: number,
  reqid: number,
): string[] {
  const sel = [
    "src",
    hostPrefix(src),
    "dst",
    hostPrefix(dst),
    "proto",
    "udp",
    "dport",
    String(port),
    "dir",
    dir,
  ];
  return verb === "delete" ? ["xfrm", "policy", "delete", ...sel] : [
    "xfrm",
    "policy",
    "add",
    ...sel,
    "tmpl",
    "src",
    src,
    "dst",
    dst,
    "proto",
    "esp",
    "reqid",
    String(reqid),
    "mode",
    "transport",
  ];
}

/** The minimal ordered change list. Throws when the desired state is inconsistent (SPI clash). */
export function planHost(desired: DesiredHost, observed: ObservedHost): Change[] {
  const links = new Map(observed.links.map((l) => [l.name, l]));
  const early: Change[] = []; // links, addresses, TAPs (no traffic can leak through these)
  const esp: Change[] = []; // SAs, policies, guard: before any VXLAN is up
  const late: Change[] = []; // VXLAN up, fdb
  const cleanup: Change[] = [];
  const ip = (
    kind: Change["kind"],
    description: string,
    args: string[],
    secretArgs?: number[],
  ): Change => ({ kind, description, tool: "ip", args, secretArgs });
  const br = (description: string, args: string[]): Change => ({
    kind: "fdb",
    description,
    tool: "bridge",
    args,
  });

  const wanted = new Set<string>();
  for (const n of desired.networks) {
    const b = bridgeName(n.name);
    wanted.add(b);
    const have = links.get(b);
    if (!have || have.kind !== "bridge") {
      if (have) early.push(ip("link", `replace ${b} (not a bridge)`, ["link", "del", "dev", b]));
      early.push(
        ip("link", `create bridge of network ${n.name}`, [
          "link",
          "add",
          "name",
          b,
          "mtu",
          String(n.mtu),
          "type",
          "bridge",
          "stp_state",
          "0",
        ]),
      );
      early.push(
        ip("link", `mark ${b} as ours`, ["link", "set", "dev", b, "alias", "weave-agent"]),
      );
      early.push(ip("link", `bring ${b} up`, ["link", "set", "dev", b, "up"]));
    } else {
      if (have.mtu !== n.mtu) {
        early.push(
          ip("link", `set ${b} MTU ${n.mtu}`, ["link", "set", "dev", b, "mtu", String(n.mtu)]),
        );
      }
      if (!have.up) early.push(ip("link", `bring ${b} up`, ["link", "set", "dev", b, "up"]));
    }
    const cidr = `${n.address}/${n.prefixLength}`;
    const addrs = have && have.kind === "bridge" ? have.addresses : [];
    if (!addrs.includes(cidr)) {
      early.push(ip("address", `address ${cidr} on ${b}`, ["address", "add", cidr, "dev", b]));
    }
    for (const a of addrs) {
      if (a !== cidr && !a.startsWith("fe80:")) {
        early.push(ip("address", `remove stale ${a} from ${b}`, ["address", "del", a, "dev", b]));
      }
    }

    const port = (
      name: string,
      create: string[],
      isNew: boolean,
      target: Change[],
      l?: ObservedLink,
    ) => {
      if (isNew || !l || l.master !== b) {
        target.push(
          ip("link", `enslave ${name} to ${b}`, ["link", "set", "dev", name, "master", b]),
        );
      }
      if (isNew || !l || l.mtu !== n.mtu) {
        target.push(
          ip("link", `set ${name} MTU ${n.mtu}`, [
            "link",
            "set",
            "dev",
            name,
            "mtu",
            String(n.mtu),
          ]),
        );
      }
      if (isNew || !l || l.isolated !== true) {
        target.push({
          kind: "link",
          description: `isolate ${name} from the bridge's other overlay port`,
          tool: "bridge",
          args: ["link", "set", "dev", name, "isolated", "on"],
        });
      }
      if (isNew || !l || !l.up) {
        target.push(ip("link", `bring ${name} up`, ["link", "set", "dev", name, "up"]));
      }
      void create;
    };

    if (n.sleeve) {
      const t = tapName(n.name);
      wanted.add(t);
      const l = links.get(t);
      const ok = l && l.kind === "tun";
      if (l && !ok) early.push(ip("link", `replace ${t}`, ["link", "del", "dev", t]));
      if (!ok) {
        early.push(
          ip("link", `create TAP for the sleeve of ${n.name}`, [
            "tuntap",
            "add",
            "dev",
            t,
            "mode",
            "tap",
            "multi_queue",
            "vnet_hdr",
          ]),
        );
      }
      port(t, [], !ok, early, ok ? l : undefined);
    }
    if (n.fastdp) {
      const x = vxlanName(n.name);
      wanted.add(x);
      const l = links.get(x);
      const ok = l && l.kind === "vxlan" && l.vxlan !== null && l.vxlan.id === n.vni &&
        l.vxlan.port === desired.vxlanPort && l.vxlan.local === desired.underlay.address &&
        !l.vxlan.learning;
      if (l && !ok) {
        early.push(ip("link", `replace ${x} (attributes differ)`, ["link", "del", "dev", x]));
      }
      if (!ok) {
        early.push(ip("link", `create VXLAN ${n.vni} of ${n.name}`, [
          "link",
          "add",
          "name",
          x,
          "mtu",
          String(n.mtu),
          "type",
          "vxlan",
          "id",
          String(n.vni),
          "dstport",
          String(desired.vxlanPort),
          "local",
          desired.underlay.address,
          "nolearning",
        ]));
        early.push(
          ip("link", `mark ${x} as ours`, ["link", "set", "dev", x, "alias", "weave-agent"]),
        );
      }
      // Up comes last (after ESP): its first packets must not leave in clear.
      const upLater: Change[] = [];
      port(x, [], !ok, upLater, ok ? l : undefined);
      for (const c of upLater) (c.args.at(-1) === "up" ? late : early).push(c);

      const want = new Map<string, string>(); // "mac dst" -> mac
      for (const f of n.fdb) {
        want.set(`00:00:00:00:00:00 ${f.underlay}`, "00:00:00:00:00:00");
        for (const m of f.macs) want.set(`${m} ${f.underlay}`, m);
      }
      const have = new Set(ok ? observed.fdb[x] ?? [] : []);
      for (const [k, mac] of [...want].sort()) {
        if (have.has(k)) continue;
        const dst = k.split(" ")[1];
        late.push(
          br(`forward ${mac === "00:00:00:00:00:00" ? "floods" : mac} of ${n.name} to ${dst}`, [
            "fdb",
            "append",
            mac,
            "dev",
            x,
            "dst",
            dst,
            "self",
            "permanent",
          ]),
        );
      }
      for (const k of [...have].sort()) {
        if (want.has(k)) continue;
        const [mac, dst] = k.split(" ");
        cleanup.push(
          br(`remove stale entry ${mac} -> ${dst} of ${n.name}`, [
            "fdb",
            "del",
            mac,
            "dev",
            x,
            "dst",
            dst,
            "self",
          ]),
        );
      }
    }
  }
  for (const l of observed.links) {
    if (isOwnedLink(l.name) && !wanted.has(l.name)) {
      cleanup.push(
        ip("link", `remove ${l.name} (no longer wanted)`, ["link", "del", "dev", l.name]),
      );
    }
  }

  // ESP: new SAs first, then policies (stable reqids), then the guard; stale SAs go last, so
  // there is never a moment where VXLAN to a fast-datapath peer could leave unencrypted.
  const spis = new Set<string>();
  const wantSa = new Map<string, { args: string[] }>();
  for (const e of desired.esp) {
    for (
      const [dir, src, dst, sa] of [["out", e.local, e.remote, e.out], [
        "in",
        e.remote,
        e.local,
        e.in,
      ]] as const
    ) {
      const key = `${dst} ${sa.spi}`;
      if (spis.has(key)) {
        throw new Error(`SPI 0x${sa.spi.toString(16)} towards ${dst} would be used twice`);
      }
      spis.add(key);
      wantSa.set(`${src} ${dst} ${sa.spi}`, {
        args: saArgs(src, dst, sa.spi, reqidFor(e.peer, dir), sa.key),
      });
    }
  }
  for (const s of observed.sas) {
    if (!ownsReqid(s.reqid)) continue;
    const k = `${s.src} ${s.dst} ${s.spi}`;
    if (spis.has(`${s.dst} ${s.spi}`) && !wantSa.has(k)) {
      throw new Error(`SPI 0x${s.spi.toString(16)} towards ${s.dst} is already in use`);
    }
  }
  const haveSa = new Set(
    observed.sas.filter((s) => ownsReqid(s.reqid)).map((s) => `${s.src} ${s.dst} ${s.spi}`),
  );
  for (const [k, { args }] of wantSa) {
    if (!haveSa.has(k)) {
      esp.push(
        ip(
          "xfrm-state",
          `ESP SA ${k.split(" ").slice(0, 2).join(" -> ")} spi 0x${
            Number(k.split(" ")[2]).toString(16)
          }`,
          args,
          [SA_KEY_ARG],
        ),
      );
    }
  }
  const wantPol = new Map<string, string[]>();
  for (const e of desired.esp) {
    wantPol.set(
      `${e.local} ${e.remote} out`,
      policyArgs("add", e.local, e.remote, "out", desired.vxlanPort, reqidFor(e.peer, "out")),
    );
    wantPol.set(
      `${e.remote} ${e.local} in`,
      policyArgs("add", e.remote, e.local, "in", desired.vxlanPort, reqidFor(e.peer, "in")),
    );
  }
  const havePol = new Map<string, (typeof observed.policies)[number]>();
  for (const p of observed.policies) {
    if (ownsReqid(p.reqid)) havePol.set(`${p.src} ${p.dst} ${p.dir}`, p);
  }
  for (const [k, args] of wantPol) {
    const h = havePol.get(k);
    const reqid = Number(args[args.indexOf("reqid") + 1]);
    if (h && h.reqid === reqid && h.dport === desired.vxlanPort) continue;
    if (h) {
      esp.push(
        ip(
          "xfrm-policy",
          `replace policy ${k}`,
          policyArgs(
            "delete",
            h.src,
            h.dst,
            h.dir as "in" | "out",
            h.dport ?? desired.vxlanPort,
            h.reqid,
          ),
        ),
      );
    }
    esp.push(ip("xfrm-policy", `policy ${k}: VXLAN through ESP`, args));
  }
  const guard = nftGuard(desired);
  if ((guard ?? null) !== (observed.nftTable ?? null)) {
    esp.push({
      kind: "nft",
      description: guard
        ? "drop VXLAN from fast-datapath peers that did not come through ESP"
        : "remove the ESP guard",
      tool: "nft",
      args: [
        guard
          ? `table inet ${NFT_TABLE}\nflush table inet ${NFT_TABLE}\ntable inet ${NFT_TABLE} {\n${guard}\n}\n`
          : `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`,
      ],
    });
  }
  // Stale ESP: policies of peers no longer fast go before their SAs (their VXLAN FDB entries
  // are removed in `cleanup`, which runs after `late`).
  for (const [k, p] of havePol) {
    if (!wantPol.has(k)) {
      cleanup.push(
        ip(
          "xfrm-policy",
          `remove policy ${k}`,
          policyArgs(
            "delete",
            p.src,
            p.dst,
            p.dir as "in" | "out",
            p.dport ?? desired.vxlanPort,
            p.reqid,
          ),
        ),
      );
    }
  }
  for (const s of observed.sas) {
    if (ownsReqid(s.reqid) && !wantSa.has(`${s.src} ${s.dst} ${s.spi}`)) {
      cleanup.push(
        ip(
          "xfrm-state",
          `remove old SA ${s.src} -> ${s.dst} spi 0x${s.spi.toString(16)}`,
          saDeleteArgs(s.src, s.dst, s.spi),
        ),
      );
    }
  }
  // Within a phase, order does not matter across tools, so group by tool: the applier then
  // needs one `ip -batch` and one `bridge -batch` per phase instead of one per switch.
  return [...byTool(early), ...byTool(esp), ...byTool(late), ...byTool(cleanup)];
}

const TOOL_ORDER = { ip: 0, bridge: 1, nft: 2 } as const;

function byTool(changes: Change[]): Change[] {
  return changes
    .map((c, i) => ({ c, i }))
    .sort((a, b) => TOOL_ORDER[a.c.tool] - TOOL_ORDER[b.c.tool] || a.i - b.i)
    .map((x) => x.c);
}

/** Everything `down` removes: our links, our SAs and policies, our nft tables. */
export function teardownPlan(observed: ObservedHost): Change[] {
  const out: Change[] = [];
  for (const p of observed.policies) {
    if (ownsReqid(p.reqid)) {
      out.push({
        kind: "xfrm-policy",
        description: `remove policy ${p.src} ${p.dst} ${p.dir}`,
        tool: "ip",
        args: policyArgs("delete", p.src, p.dst, p.dir as "in" | "out", p.dport ?? 0, p.reqid),
      });
    }
  }
  // VXLAN links go first, before the policies: nothing may send VXLAN in clear once policies
  // are gone. Then the other links, then the SAs.
  const linkDel = (name: string): Change => ({
    kind: "link",
    description: `remove ${name}`,
    tool: "ip",
    args: ["link", "del", "dev", name],
  });
  const owned = observed.links.filter((l) => isOwnedLink(l.name));
  out.unshift(...owned.filter((l) => l.kind === "vxlan").map((l) => linkDel(l.name)));
  out.push(...owned.filter((l) => l.kind !== "vxlan").map((l) => linkDel(l.name)));
  for (const s of observed.sas) {
    if (ownsReqid(s.reqid)) {
      out.push({
        kind: "xfrm-state",
        description: `remove SA ${s.src} -> ${s.dst}`,
        tool: "ip",
        args: saDeleteArgs(s.src, s.dst, s.spi),
      });
    }
  }
  if (observed.nftTable !== null) {
    out.push({
      kind: "nft",
      description: "remove our nft table",
      tool: "nft",
      args: [`table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`],
    });
  }
  if (observed.isolationTable) {
    out.push({
      kind: "nft",
      description: "remove the isolation table",
      tool: "nft",
      args: [`table inet weave_isolation\ndelete table inet weave_isolation\n`],
    });
  }
  return out;
}

/** The changes as the exact commands, keys redacted unless asked. */
export function renderPlan(changes: Change[], opts: { showKeys?: boolean } = {}): string {
  return changes.map((c) => {
    if (c.tool === "nft") return `# ${c.description}\nnft -f - <<'EOF'\n${c.args[0]}EOF`;
    const args = c.args.map((
      a,
      i,
    ) => (!opts.showKeys && c.secretArgs?.includes(i) ? "0x<redacted>" : a));
    return `${c.tool} ${
      args.map((a) => (/^[\w.:/@,=+-]+$/.test(a) ? a : `'${a}'`)).join(" ")
    }  # ${c.description}`;
  }).join("\n");
}

/** Exposed for tests and golden files. */
export type { DesiredEspPair };
