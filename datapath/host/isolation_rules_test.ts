import { strictEqual } from "node:assert";
import { isolationRuleset, subnetOf } from "./isolation_rules.ts";

const GOLDEN = new URL("./testdata/isolation.golden", import.meta.url);

const nets = [
  { name: "sensors", address: "10.32.1.1", family: 4 as const, prefixLength: 24 },
  { name: "cameras", address: "10.32.2.1", family: 4 as const, prefixLength: 24 },
  { name: "ctl", address: "fd00:32::1", family: 6 as const, prefixLength: 64 },
];

Deno.test("isolation ruleset: golden (underlay guard, input, one declared route)", async () => {
  const text = isolationRuleset(nets, [{ from: "sensors", to: "cameras" }]);
  if (Deno.env.get("WEAVE_UPDATE_GOLDEN")) await Deno.writeTextFile(GOLDEN, text);
  strictEqual(text, await Deno.readTextFile(GOLDEN));
});

Deno.test("isolation ruleset: no networks deletes the table", () => {
  strictEqual(
    isolationRuleset([]),
    "table inet weave_isolation\ndelete table inet weave_isolation\n",
  );
});

Deno.test("subnetOf: host bits cleared, in nft's canonical text", () => {
  const cases: [string, number, string][] = [
    ["10.32.1.77", 24, "10.32.1.0/24"],
    ["10.32.255.1", 12, "10.32.0.0/12"],
    ["192.0.2.9", 32, "192.0.2.9/32"],
    ["0.0.0.1", 0, "0.0.0.0/0"],
    ["fd00:32::1", 64, "fd00:32::/64"],
    ["fd00:32:0:7:1:2:3:4", 48, "fd00:32::/48"],
    ["2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"],
    ["fd00::1:0:0:1", 96, "fd00::1:0:0:0/96"],
  ];
  for (const [a, p, want] of cases) strictEqual(subnetOf(a, p), want, `${a}/${p}`);
});
