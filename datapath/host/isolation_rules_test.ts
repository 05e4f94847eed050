import { strictEqual } from "node:assert";
import { isolationRuleset } from "./isolation_rules.ts";
import { runCommand } from "../command.ts";

const nets = [
  { name: "sensors", address: "10.32.1.1", family: 4 as const },
  { name: "ctl", address: "fd00:32::1", family: 6 as const },
];

Deno.test("isolation ruleset: golden", () => {
  strictEqual(
    isolationRuleset(nets),
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
}
`,
  );
});

Deno.test({
  name: "isolation ruleset: nft accepts it, reloading is idempotent, empty removes the table",
  ignore: Deno.uid() !== 0,
  async fn() {
    const ns = `wviso${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
    const run = async (args: string[], stdin?: string) => {
      const r = await runCommand(args[0], args.slice(1), { stdin });
      return { ok: r.ok, out: r.stdout + r.stderr };
    };
    try {
      await run(["ip", "netns", "add", ns]);
      const nft = (stdin: string) => run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin);
      const first = await nft(isolationRuleset(nets));
      strictEqual(first.ok, true, first.out);
      strictEqual((await nft(isolationRuleset(nets))).ok, true);
      const listed =
        (await run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "weave_isolation"]))
          .out;
      strictEqual(listed.split("counter packets").length - 1, 4, listed);
      strictEqual((await nft(isolationRuleset([]))).ok, true);
      const gone = await run(["ip", "netns", "exec", ns, "nft", "list", "tables"]);
      strictEqual(gone.out.includes("weave_isolation"), false);
    } finally {
      await run(["ip", "netns", "del", ns]);
    }
  },
});
