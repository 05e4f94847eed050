// `weave-agent check` for real: the check runs inside lab namespaces (a child process under
// `ip netns exec`, since a Deno process cannot switch namespaces), against real links, routes,
// sockets and nft, and each scenario breaks one thing and looks for the item that says so.

import { deepStrictEqual, match, ok, strictEqual } from "node:assert";
import type { CheckItem, CheckReport } from "../agent/check/mod.ts";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";

const ENTRY = new URL("./testdata/check_entry.ts", import.meta.url).pathname;
// Only for running this test before datapath/kernel_probe.ts and datapath/sleeve/mod.ts exist.
const IMPORT_MAP = Deno.env.get("WEAVE_TEST_IMPORT_MAP");

interface CheckRun {
  report: CheckReport;
  code: number;
  table: string;
  item(id: string): CheckItem;
}

async function check(lab: Lab, host: string, config: string, name?: string): Promise<CheckRun> {
  const r = await lab.exec(host, [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-ffi",
    ...(IMPORT_MAP ? ["--import-map", IMPORT_MAP] : []),
    ENTRY,
    config,
    name ?? "",
    lab.agentRunDir,
  ], { cwd: Lab.repoRoot, timeoutMs: 30_000 });
  let report: CheckReport;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`check did not print a report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return {
    report,
    code: r.code,
    table: r.stderr,
    item(id: string) {
      const found = report.items.find((i) => i.id === id);
      if (!found) throw new Error(`no item ${id} in:\n${r.stderr}`);
      return found;
    },
  };
}

function configYaml(opts: { password?: string | null; datapath?: string; mtu?: number } = {}) {
  const password = opts.password === undefined ? "secret.txt" : opts.password;
  return [
    "version: 1",
    ...(password === null ? [] : ["password:", `  file: ${password}`]),
    `datapath: ${opts.datapath ?? "auto"}`,
    `underlay_mtu: ${opts.mtu ?? 1500}`,
    "peers:",
    "  - name: edge-1",
    "    address: 10.254.0.1",
    "  - name: edge-2",
    "    address: 10.254.0.2",
    "  - name: edge-3",
    "    address: 10.254.0.3",
    "networks:",
    "  - name: sensors",
    "    subnet: 10.32.1.0/24",
    "    vni: 101",
    "",
  ].join("\n");
}

/** A TCP (or UDP) listener on `addr:port` inside `host`, until stopped. */
function listen(lab: Lab, host: string, addr: string, port: number, udp = false) {
  const kind = udp ? "SOCK_DGRAM" : "SOCK_STREAM";
  return lab.spawn(host, [
    "python3",
    "-c",
    `import socket,time\ns=socket.socket(socket.AF_INET,socket.${kind})\n` +
    `s.bind(("${addr}",${port}))\nprint("bound",flush=True)\n` +
    // Accept and close, or the backlog fills up after a few checks and SYNs go unanswered.
    (udp ? `time.sleep(120)` : `s.listen(8)\nwhile True: s.accept()[0].close()`),
  ], { logFile: `listen-${host}-${port}-${udp ? "udp" : "tcp"}.log` });
}

Deno.test({
  name: "check: preflight in a lab, one broken thing at a time",
  ...LAB,
  async fn(t) {
    await using lab = await Lab.create({ hosts: ["edge-1", "edge-2", "edge-3"] });
    const secret = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    await lab.writeFile("secret.txt", secret + "\n", 0o600);
    const config = await lab.writeFile("weave.yaml", configYaml());
    // edge-2 "runs an agent": something accepts TCP on its control port. edge-3 does not.
    const edge2 = await listen(lab, "edge-2", "10.254.0.2", 6783);
    await edge2.waitForLog(/bound/, 5000);

    await t.step("healthy box: config, identity, address, password, ports, peers", async () => {
      const c = await check(lab, "edge-1", config, "edge-1");
      for (
        const id of [
          "privileges",
          "privileges.realtime",
          "config.valid",
          "config.identity",
          "underlay.address",
          "underlay.mtu",
          "password.source",
          "password.strength",
          "subnet.sensors",
          "vni.sensors",
          "port.control",
          "port.sleeve",
          "port.vxlan",
          "peer.edge-2",
        ]
      ) {
        strictEqual(c.item(id).status, "ok", `${id}: ${c.item(id).found}\n${c.table}`);
      }
      match(c.item("underlay.address").found, /10\.254\.0\.1 is on eth0/);
      match(c.item("peer.edge-2").found, /accepts TCP/);
      // edge-3 runs nothing: refused, a warning with a fix naming it.
      const e3 = c.item("peer.edge-3");
      strictEqual(e3.status, "warning");
      match(e3.found, /refused/);
      match(e3.fix ?? "", /start weave-agent on edge-3/);
      // Summary and exit code agree with the items.
      const count = (s: string) => c.report.items.filter((i) => i.status === s).length;
      deepStrictEqual(
        [c.report.summary.ok, c.report.summary.warning, c.report.summary.failure],
        [count("ok"), count("warning"), count("failure")],
      );
      strictEqual(c.code, c.report.summary.failure ? 1 : c.report.summary.warning ? 3 : 0);
      match(c.table, /^WARN {2}peer\.edge-3/m);
      match(c.table, /fix: start weave-agent on edge-3/);
    });

    await t.step(
      "this kernel has no ESP-GCM: said, with the fix, and the sleeve is used",
      async () => {
        const c = await check(lab, "edge-1", config, "edge-1");
        const esp = c.item("kernel.esp-gcm");
        strictEqual(esp.status, "warning", esp.found);
        match(esp.found, /missing/);
        match(esp.found, /sleeve will be used for encrypted pairs/);
        ok(esp.fix && esp.fix.length > 0, "no fix for esp-gcm");
        match(
          c.item("datapath.edge-2").found,
          /sleeve: this kernel lacks ESP rfc4106\(gcm\(aes\)\) and a password is set/,
        );
        // Without a password ESP is not needed at all.
        const plain = await lab.writeFile("plain.yaml", configYaml({ password: null }));
        const p = await check(lab, "edge-1", plain, "edge-1");
        strictEqual(p.item("kernel.esp-gcm").status, "ok");
        match(p.item("kernel.esp-gcm").found, /not needed: no password/);
        strictEqual(p.item("password.source").status, "warning");
        match(p.item("password.source").found, /unencrypted/);
      },
    );

    await t.step("an unreachable peer costs at most ~2 s and says what to check", async () => {
      // The cost is judged against a check of the same box with nothing cut, in the same run:
      // peers are probed in parallel, so the cut one adds at most its 2 s timeout (with slack
      // for a loaded machine), never one timeout per probe or a hang.
      const baseline = (await check(lab, "edge-1", config, "edge-1")).report.summary.durationMs;
      const cut = await lab.partition("edge-1", "edge-2");
      try {
        const c = await check(lab, "edge-1", config, "edge-1");
        const e2 = c.item("peer.edge-2");
        strictEqual(e2.status, "warning");
        match(e2.found, /did not answer within 2000 ms/);
        match(e2.fix ?? "", /allow TCP 6783/);
        const took = c.report.summary.durationMs;
        ok(took <= 2 * baseline + 2 * 2000, `check took ${took} ms, ${baseline} ms uncut`);
      } finally {
        await cut.undo();
      }
    });

    await t.step("a taken port fails naming the port; a running agent's is fine", async () => {
      const tcp = await listen(lab, "edge-1", "10.254.0.1", 6783);
      const udp = await listen(lab, "edge-1", "0.0.0.0", 6784, true);
      await tcp.waitForLog(/bound/, 5000);
      await udp.waitForLog(/bound/, 5000);
      try {
        const c = await check(lab, "edge-1", config, "edge-1");
        const control = c.item("port.control");
        strictEqual(control.status, "failure", control.found);
        match(control.found, /control TCP 10\.254\.0\.1:6783 is in use/);
        match(control.fix ?? "", /ss -ltnpH 'sport = :6783'/);
        strictEqual(c.item("port.sleeve").status, "ok"); // UDP 6783 is still free
        const vxlan = c.item("port.vxlan");
        strictEqual(vxlan.status, "failure", vxlan.found);
        match(vxlan.found, /6784/);
        match(vxlan.fix ?? "", /vxlan_port/);
        strictEqual(c.code, 1);

        // The same ports held while an agent answers on its control socket: not a failure.
        await Deno.mkdir(lab.agentRunDir, { recursive: true });
        const sock = Deno.listen({ transport: "unix", path: `${lab.agentRunDir}/edge-1.sock` });
        const accepting = (async () => {
          for await (const conn of sock) conn.close();
        })();
        try {
          const a = await check(lab, "edge-1", config, "edge-1");
          strictEqual(a.item("port.control").status, "ok");
          match(a.item("port.control").found, /held by the running agent/);
        } finally {
          sock.close();
          await accepting.catch(() => {});
        }
      } finally {
        await tcp.stop();
        await udp.stop();
      }
    });

    await t.step("a route or address overlapping a subnet fails; a foreign VNI fails", async () => {
      const setup = [
        ["ip", "route", "add", "10.32.0.0/16", "via", "10.254.0.2"],
        // No dummy driver in every kernel: a veth pair is an ordinary foreign link too.
        ["ip", "link", "add", "other0", "type", "veth", "peer", "name", "other0p"],
        ["ip", "addr", "add", "10.32.1.77/28", "dev", "other0"],
        ["ip", "link", "add", "vx-other", "type", "vxlan", "id", "101", "dstport", "4789"],
      ];
      try {
        for (const argv of setup) await lab.exec("edge-1", argv, { check: true });
        const c = await check(lab, "edge-1", config, "edge-1");
        const s = c.item("subnet.sensors");
        strictEqual(s.status, "failure", s.found);
        match(s.found, /route 10\.32\.0\.0\/16/);
        match(s.found, /address 10\.32\.1\.77\/28 on other0/);
        ok(s.fix);
        const v = c.item("vni.sensors");
        strictEqual(v.status, "failure", v.found);
        match(v.found, /VNI 101 .*vx-other/);
      } finally {
        await lab.exec("edge-1", ["ip", "route", "del", "10.32.0.0/16"]);
        await lab.exec("edge-1", ["ip", "link", "del", "other0"]);
        await lab.exec("edge-1", ["ip", "link", "del", "vx-other"]);
      }
      // Our own bridge holding the subnet is not a conflict.
      await lab.exec("edge-1", ["ip", "link", "add", "wvb-sensors", "type", "bridge"], {
        check: true,
      });
      await lab.exec("edge-1", ["ip", "addr", "add", "10.32.1.1/24", "dev", "wvb-sensors"]);
      await lab.exec("edge-1", ["ip", "link", "set", "wvb-sensors", "up"]);
      try {
        const c = await check(lab, "edge-1", config, "edge-1");
        strictEqual(c.item("subnet.sensors").status, "ok", c.item("subnet.sensors").found);
      } finally {
        await lab.exec("edge-1", ["ip", "link", "del", "wvb-sensors"]);
      }
    });

    await t.step("password: world-readable warns with chmod 600; weak warns why", async () => {
      const loose = await lab.writeFile("loose.txt", secret, 0o644);
      const cfg = await lab.writeFile("loose.yaml", configYaml({ password: loose }));
      const c = await check(lab, "edge-1", cfg, "edge-1");
      const src = c.item("password.source");
      strictEqual(src.status, "warning", src.found);
      match(src.found, /mode 0644/);
      strictEqual(src.fix, `chmod 600 ${loose}`);

      const weakFile = await lab.writeFile("weak.txt", "Summer2024!\n", 0o600);
      const weakCfg = await lab.writeFile("weak.yaml", configYaml({ password: weakFile }));
      const w = await check(lab, "edge-1", weakCfg, "edge-1");
      const strength = w.item("password.strength");
      strictEqual(strength.status, "warning", strength.found);
      match(strength.found, /guess the password offline/);
      ok(!w.table.includes("Summer2024"), "the password leaked into the output");
      ok(!JSON.stringify(w.report).includes("Summer2024"), "the password leaked into --json");
    });

    await t.step("wrong --name fails with a suggestion; a name of another box too", async () => {
      const c = await check(lab, "edge-1", config, "edge-l");
      const id = c.item("config.identity");
      strictEqual(id.status, "failure");
      match(id.found, /did you mean "edge-1"\?/);
      match(id.found, /edge-1, edge-2, edge-3/);
      match(id.fix ?? "", /--name/);
      strictEqual(c.code, 1);
      // edge-3's identity on edge-1's box: its address is not here.
      const other = await check(lab, "edge-1", config, "edge-3");
      strictEqual(other.item("underlay.address").status, "failure");
      match(other.item("underlay.address").found, /10\.254\.0\.3 is not on this box/);
    });

    await t.step("underlay MTU smaller than underlay_mtu fails with the value to use", async () => {
      await lab.exec("edge-1", ["ip", "link", "set", "eth0", "mtu", "1400"], { check: true });
      try {
        const c = await check(lab, "edge-1", config, "edge-1");
        const m = c.item("underlay.mtu");
        strictEqual(m.status, "failure", m.found);
        match(m.found, /eth0 has MTU 1400/);
        match(m.fix ?? "", /underlay_mtu: 1400/);
      } finally {
        await lab.exec("edge-1", ["ip", "link", "set", "eth0", "mtu", "1500"]);
      }
    });

    await t.step("an invalid config fails with positions and nothing else runs", async () => {
      const bad = await lab.writeFile("bad.yaml", configYaml().replace("vni: 101", "vni: -4"));
      const c = await check(lab, "edge-1", bad, "edge-1");
      const v = c.item("config.valid");
      strictEqual(v.status, "failure");
      match(v.found, /bad\.yaml:\d+:\d+/);
      ok(!c.report.items.some((i) => i.id.startsWith("peer.")));
      strictEqual(c.code, 1);
    });
  },
});
