import { strictEqual } from "node:assert";
import { isolationRuleset } from "./isolation_rules.ts";

const nets = [
  { name: "sensors", address: "10.32.1.1", family: 4 as const },
  { name: "ctl", address: "fd00:32::1", family: 6 as const },
];

Deno.test("isolation ruleset: golden", () => {
  strictEqual(
    isolationRuleset(nets).replace(/weave-agent [0-9a-f]{24}/, "weave-agent DIGEST"),
    `table inet weave_isolation
flush table inet weave_isolation
table inet weave_isolation {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wvb-ctl" fib daddr type local ip6 daddr != fd00:32::1 counter drop
    iifname "wvb-sensors" fib daddr type local ip daddr != 10.32.1.1 counter drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wvb-ctl" oifname "wvb-*" oifname != "wvb-ctl" counter drop
    iifname "wvb-sensors" oifname "wvb-*" oifname != "wvb-sensors" counter drop
  }
  chain digest {
    return comment "weave-agent DIGEST"
  }
}
`,
  );
});

Deno.test("isolation ruleset: no networks deletes the table", () => {
  strictEqual(
    isolationRuleset([]),
    "table inet weave_isolation\ndelete table inet weave_isolation\n",
  );
});
