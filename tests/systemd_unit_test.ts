/**
 * examples/systemd/weave-agent.service passes `systemd-analyze verify` with no warning at all
 * (an unknown or misspelt key is only a warning to systemd, so stderr must stay empty). verify
 * insists that the ExecStart binary exists; it runs in a private mount namespace whose
 * /usr/local/bin holds a `weave-agent` launcher for this checkout, so nothing outside changes.
 * Works without systemd as PID 1 (CI containers, this VM).
 */

import { deepStrictEqual, match, strictEqual } from "node:assert";
import { Fleet } from "./lab/fleet.ts";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";

const UNIT = `${Lab.repoRoot}/examples/systemd/weave-agent.service`;

async function verify(unitPath: string): Promise<{ code: number; stderr: string }> {
  const launcher = `#!/bin/sh\nexec ${Deno.execPath()} run --allow-all --unstable-ffi ` +
    `${Lab.repoRoot}/main.ts "$@"\n`;
  const script = [
    "set -e",
    "mount -t tmpfs weave-verify /usr/local/bin",
    'printf "%s" "$1" > /usr/local/bin/weave-agent',
    "chmod 755 /usr/local/bin/weave-agent",
    'exec systemd-analyze verify "$2"',
  ].join("\n");
  const out = await new Deno.Command("unshare", {
    args: ["--mount", "--propagation", "private", "sh", "-c", script, "sh", launcher, unitPath],
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_LOG_COLOR: "0" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stderr: text(out.stderr) + text(out.stdout) };
}

Deno.test({
  name: "systemd: the example unit passes systemd-analyze verify without a warning",
  ...LAB,
  async fn() {
    const r = await verify(UNIT);
    strictEqual(r.stderr, "", "systemd-analyze verify said something");
    strictEqual(r.code, 0);
  },
});

Deno.test({
  name: "systemd: verify would catch a misspelt key (the test can fail)",
  ...LAB,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weave-unit-" });
    try {
      const bad = `${dir}/weave-agent.service`;
      const text = await Deno.readTextFile(UNIT);
      await Deno.writeTextFile(bad, text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
      const r = await verify(bad);
      match(r.stderr, /Unknown key 'NoNewPrivilege'/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("systemd: the unit lets the sleeve's packet worker take the lowest realtime priority", async () => {
  const lines = (await Deno.readTextFile(UNIT)).split("\n").map((l) => l.trim());
  // RLIMIT_RTPRIO 1 allows SCHED_FIFO 1 without CAP_SYS_NICE; RestrictRealtime= would forbid it.
  strictEqual(lines.includes("LimitRTPRIO=1"), true);
  strictEqual(lines.some((l) => /^RestrictRealtime=\s*(yes|true|1|on)/.test(l)), false);
});

/** `CapabilityBoundingSet=` of the example unit, as setpriv names them (`net_admin`, …). */
async function unitCapabilities(): Promise<string[]> {
  const text = await Deno.readTextFile(UNIT);
  const line = text.split("\n").find((l) => l.startsWith("CapabilityBoundingSet="));
  if (!line) throw new Error(`${UNIT}: no CapabilityBoundingSet=`);
  return line.slice(line.indexOf("=") + 1).trim().split(/\s+/).map((c) =>
    c.replace(/^CAP_/, "").toLowerCase()
  );
}

/** Starts every host's agent as root with only `caps` in its bounding set and no_new_privs. */
async function startConfined(fleet: Fleet, caps: string[]): Promise<void> {
  for (const h of fleet.lab.hosts) {
    const agent = await fleet.lab.spawn(h, [
      "setpriv",
      `--bounding-set=-all,${caps.map((c) => `+${c}`).join(",")}`,
      "--inh-caps=-all",
      "--no-new-privs",
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-ffi",
      `${Lab.repoRoot}/main.ts`,
      "up",
      "-c",
      fleet.configs.get(h.name)!,
      "--name",
      h.name,
    ], {
      logFile: `agent-${h.name}.log`,
      cwd: Lab.repoRoot,
      env: { WEAVE_RUN_DIR: fleet.lab.agentRunDir, NO_COLOR: "1" },
    });
    fleet.agents.set(h.name, agent);
  }
}

Deno.test({
  name: "systemd: the unit's capabilities (CAP_NET_ADMIN, CAP_SYS_ADMIN) and no_new_privs " +
    "run the fast datapath; without CAP_SYS_ADMIN every pair falls back to the sleeve",
  ...LAB,
  async fn() {
    const caps = await unitCapabilities();
    deepStrictEqual(caps.sort(), ["net_admin", "sys_admin"]);
    {
      await using fleet = await Fleet.start({
        hosts: 2,
        password: null,
        skip: ["edge-1", "edge-2"],
      });
      await startConfined(fleet, caps);
      const statuses = await fleet.settled("fastdp", 40_000);
      const dst = fleet.overlayAddress(statuses.get("edge-2")!, "net1");
      const ping = await fleet.lab.exec("edge-1", ["ping", "-c", "2", "-i", "0.2", "-W", "2", dst]);
      strictEqual(ping.code, 0, ping.stdout + ping.stderr);
      const status = await new Deno.Command("grep", {
        args: ["^CapBnd", `/proc/${fleet.agents.get("edge-1")!.pid}/status`],
        stdout: "piped",
      }).output();
      // CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21: nothing else in the bounding set.
      match(new TextDecoder().decode(status.stdout), /CapBnd:\s+0+201000\s*$/);
    }
    {
      await using fleet = await Fleet.start({
        hosts: 2,
        password: null,
        skip: ["edge-1", "edge-2"],
      });
      await startConfined(fleet, caps.filter((c) => c !== "sys_admin"));
      const statuses = await fleet.settled("sleeve", 40_000);
      const p = statuses.get("edge-1")!.peers[0];
      match(p.reason, /cannot create a network namespace/);
      // Without CAP_SYS_NICE, and without the RLIMIT_RTPRIO the unit sets (LimitRTPRIO=1; this
      // machine cannot raise a hard limit: it lacks CAP_SYS_RESOURCE), the kernel refuses the
      // sleeve's packet worker realtime priority: it runs on at the ordinary policy, and status
      // says why.
      const refused = statuses.get("edge-1")!.sleeve!.priority;
      strictEqual(refused.realtime, false);
      match(
        refused.why,
        /the kernel refused realtime: sched_setscheduler: Operation not permitted/,
      );
    }
  },
});
