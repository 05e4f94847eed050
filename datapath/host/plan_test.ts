/**
 * The host planner: golden plans, minimal changes, ownership, and `down` covering everything
 * `plan` creates. The real-kernel round trips are lab tests in tests/host_plan_lab_test.ts.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { deriveEspKeys } from "../fastdp/esp_keys.ts";
import { EMPTY_OBSERVED as empty, type ObservedHost } from "./desired.ts";
import { type Change, planHost, renderPlan, teardownPlan } from "./plan.ts";
import { encryptedDesired, observedAfter, secrets } from "./testdata/fixtures.ts";
import { ISOLATION_TABLE, NFT_TABLE } from "./nft_table.ts";

const GOLDEN = new URL("./testdata/encrypted_plan.golden", import.meta.url);

Deno.test("golden: full encrypted plan from an empty host (keys shown)", async () => {
  const text = renderPlan(planHost(encryptedDesired(), empty), { showKeys: true }) + "\n";
  if (Deno.env.get("WEAVE_UPDATE_GOLDEN")) await Deno.writeTextFile(GOLDEN, text);
  strictEqual(text, await Deno.readTextFile(GOLDEN));
});

Deno.test("plan order: nft tables, SAs and policies come before any VXLAN is up", () => {
  const changes = planHost(encryptedDesired(), empty);
  const firstUp = changes.findIndex((c) =>
    c.args.join(" ").startsWith("link set dev wvx-") && c.args.at(-1) === "up"
  );
  const lastEsp = changes.findLastIndex((c) =>
    c.kind === "xfrm-state" || c.kind === "xfrm-policy" || c.kind === "nft"
  );
  ok(firstUp > lastEsp, `first VXLAN up at ${firstUp}, last ESP/nft change at ${lastEsp}`);
  // Per direction: one SA and one policy each way for each of the three peers.
  strictEqual(changes.filter((c) => c.kind === "xfrm-state").length, 6);
  strictEqual(changes.filter((c) => c.kind === "xfrm-policy").length, 6);
  // Redacted by default.
  const redacted = renderPlan(changes);
  strictEqual(/0x[0-9a-f]{72}/.exec(redacted)?.[0], undefined);
  ok(redacted.includes("0x<redacted>"), redacted.slice(0, 400));
});

Deno.test("the isolation ruleset is part of the plan (reconcile applies nothing on the side)", () => {
  const nft = planHost(encryptedDesired(), empty).filter((c) => c.kind === "nft");
  deepStrictEqual(nft.map((c) => /^table inet (\S+)/.exec(c.args[0])?.[1]), [
    ISOLATION_TABLE,
    NFT_TABLE,
  ]);
  const iso = nft[0].args[0];
  ok(iso.includes(`iifname "wvb-sensors" fib daddr type local ip daddr != 10.32.1.1`), iso);
  // A host whose isolation table was flushed by someone else gets it back, and only it.
  const obs = observedAfter(encryptedDesired());
  obs.nft[ISOLATION_TABLE] = { ...obs.nft[ISOLATION_TABLE], rules: 0 };
  deepStrictEqual(planHost(encryptedDesired(), obs).map((c) => c.description), [
    "load isolation: overlay addresses only through their bridges, declared routes only (11 rules)",
  ]);
});

Deno.test("desired == observed: empty plan", () => {
  deepStrictEqual(planHost(encryptedDesired(), observedAfter(encryptedDesired())), []);
});

Deno.test("a peer removed: only its entries, policies and SAs go, and nothing else", () => {
  const before = encryptedDesired();
  const after = encryptedDesired();
  after.networks[0].fdb = after.networks[0].fdb.filter((f) => f.peer !== "edge-4");
  after.esp = after.esp.filter((e) => e.peer !== "edge-4");
  const changes = planHost(after, observedAfter(before));
  const lines = changes.map((c) => c.args.join(" "));
  const count = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;
  strictEqual(count("fdb del 00:00:00:00:00:00 dev wvx-sensors dst 192.0.2.13"), 1);
  strictEqual(count("xfrm policy delete"), 2);
  strictEqual(count("xfrm state delete"), 2);
  strictEqual(changes.filter((c) => c.kind === "nft").length, 1, "guard loses edge-4");
  strictEqual(changes.length, 6, lines.join("\n"));
});

Deno.test("MTU change: one line per link", () => {
  const d = encryptedDesired();
  const obs = observedAfter(d);
  d.networks[1].mtu = 1300;
  const lines = planHost(d, obs).map((c) => c.args.join(" "));
  deepStrictEqual(lines.sort(), [
    "link set dev wvb-control mtu 1300",
    "link set dev wvt-control mtu 1300",
    "link set dev wvx-control mtu 1300",
  ]);
});

Deno.test("rekey (new session): new SAs are added before the old ones go; policies stay", () => {
  const old = encryptedDesired(10);
  const next = encryptedDesired(10);
  next.esp[0] = { ...next.esp[0], ...deriveEspKeys(secrets(99, true)) };
  const changes = planHost(next, observedAfter(old));
  const kinds = changes.map((c) => `${c.kind}:${c.args[2]}`);
  deepStrictEqual(kinds, [
    "xfrm-state:add",
    "xfrm-state:add",
    "xfrm-state:delete",
    "xfrm-state:delete",
  ]);
});

Deno.test("foreign objects are never touched; SPI clashes are refused", () => {
  const obs: ObservedHost = {
    ...empty,
    links: [{
      name: "eth0",
      kind: "veth",
      mtu: 1500,
      up: true,
      master: null,
      address: null,
      isolated: null,
      vxlan: null,
      addresses: [],
    }],
    sas: [{ src: "192.0.2.10", dst: "192.0.2.99", spi: 0x1234, reqid: 7, keyHex: null }],
    policies: [{ src: "192.0.2.10", dst: "192.0.2.99", dir: "out", dport: 500, reqid: 7 }],
  };
  deepStrictEqual(teardownPlan(obs), []);
  const d = encryptedDesired();
  throws(
    () =>
      planHost({
        ...d,
        esp: [d.esp[0], {
          ...d.esp[1],
          in: { ...d.esp[1].in, spi: d.esp[0].in.spi },
          remote: d.esp[0].remote,
        }],
      }, empty),
    /used twice/,
  );
});

/** The kernel object a change creates (or removes), so `down` can be checked against `plan`. */
function objectOf(c: Change): string {
  const w = c.args;
  switch (c.kind) {
    case "nft":
      return `nft ${/^table inet (\S+)/.exec(w[0])![1]}`;
    case "sysctl": // per-bridge switches live and die with their bridge
      return `link ${/^net\.ipv4\.conf\.([^.]+)\.forwarding=/.exec(w[0])![1]}`;
    case "xfrm-state":
      return `sa ${w[w.indexOf("src") + 1]} ${w[w.indexOf("dst") + 1]} ${w[w.indexOf("spi") + 1]}`;
    case "xfrm-policy":
      return `policy ${w[w.indexOf("src") + 1].replace(/\/\d+$/, "")} ${
        w[w.indexOf("dst") + 1].replace(/\/\d+$/, "")
      } ${w[w.indexOf("dir") + 1]}`;
    default: {
      // Links, their addresses, ports and forwarding entries all live and die with a link.
      const dev = w.includes("dev") ? w[w.indexOf("dev") + 1] : w[w.indexOf("name") + 1];
      return `link ${dev}`;
    }
  }
}

Deno.test("down's plan removes every object plan creates, of every kind", () => {
  const d = encryptedDesired();
  const created = planHost(d, empty);
  const kinds = new Set(created.map((c) => c.kind));
  deepStrictEqual([...kinds].sort(), [
    "address",
    "fdb",
    "link",
    "nft",
    "sysctl",
    "xfrm-policy",
    "xfrm-state",
  ]);
  const down = teardownPlan(observedAfter(d));
  const removed = new Set(down.map(objectOf));
  const missing = [...new Set(created.map(objectOf))].filter((o) => !removed.has(o));
  deepStrictEqual(missing, [], `down leaves: ${missing.join(", ")}`);
  // And nothing is left for a plan against a host that only has what down did not remove.
  const removesOnly = down.every((c) =>
    c.kind === "nft" ? c.args[0].includes("delete table") : /^(del|delete)$/.test(c.args[1]) ||
      c.args[2] === "delete"
  );
  ok(removesOnly, renderPlan(down));
});
