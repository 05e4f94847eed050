/**
 * A real agent under a service manager's eyes: the agent process sends READY=1 once its control
 * socket answers and its first reconcile is done, STATUS= with peers up / total, RELOADING=1
 * (with MONOTONIC_USEC) and READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM, all over a
 * real NOTIFY_SOCKET bound by an independent receiver, from the agent's own pid. WATCHDOG=1
 * pings come while the main loop runs and stop while it is blocked (paused through the
 * inspector: the process and its sleeve worker go on, overlay traffic keeps flowing).
 */

import { deepStrictEqual, match, notStrictEqual, ok, strictEqual } from "node:assert";
import { Fleet } from "./lab/fleet.ts";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";
import { NotifyReceiver, type Received } from "./lab/notify_receiver.ts";
import { monotonicUsec } from "../agent/ops/systemd_notify.ts";

const PASSWORD = "systemd notify test passphrase, long enough 8123";
const INSPECT = "127.0.0.1:9330";
/** WATCHDOG_USEC the "service manager" sets: pings every 200 ms. */
const WATCHDOG_USEC = 400_000;

const first = (g: Received) => g.msg.split("\n")[0];
const has = (line: string) => (got: Received[]) =>
  got.some((g) => g.msg.split("\n").includes(line));

Deno.test({
  name:
    "systemd e2e: READY, STATUS, RELOADING/READY, STOPPING and a watchdog that stops with a blocked loop",
  ...LAB,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weave-notify-e2e-" });
    const socket = `${dir}/notify.sock`;
    const rx = await NotifyReceiver.start(socket);
    try {
      await using fleet = await Fleet.start({
        hosts: 2,
        password: PASSWORD,
        datapath: "sleeve",
        skip: ["edge-1"],
      });
      const h = fleet.host("edge-1");
      const agent = await fleet.lab.spawn(h, [
        Deno.execPath(),
        "run",
        `--inspect=${INSPECT}`,
        "--allow-all",
        "--unstable-ffi",
        `${Lab.repoRoot}/main.ts`,
        "up",
        "-c",
        fleet.configs.get("edge-1")!,
        "--name",
        "edge-1",
      ], {
        logFile: "agent-edge-1.log",
        cwd: Lab.repoRoot,
        env: {
          WEAVE_RUN_DIR: fleet.lab.agentRunDir,
          NO_COLOR: "1",
          NOTIFY_SOCKET: socket,
          WATCHDOG_USEC: String(WATCHDOG_USEC),
        },
      });
      fleet.agents.set("edge-1", agent);

      // READY=1 is the first thing said, and by then the control socket answers with a status
      // whose first reconcile is done.
      await rx.waitFor(has("READY=1"), "READY=1", 30_000);
      strictEqual(first(rx.got[0]), "READY=1", JSON.stringify(rx.got));
      const atReady = await fleet.status("edge-1");
      ok(atReady, "the control socket answers at READY");
      notStrictEqual(atReady.reconcile, null, "the first reconcile is done at READY");
      for (const g of rx.got) strictEqual(g.pid, agent.pid, `sender of ${JSON.stringify(g.msg)}`);

      // STATUS: peers up / total, once the session is up.
      await rx.waitFor(
        (got) => got.some((g) => /^STATUS=1\/1 peers up/m.test(g.msg)),
        "STATUS=1/1 peers up",
        30_000,
      );

      // The watchdog is answered while the loop runs...
      const pings = () => rx.got.filter((g) => g.msg === "WATCHDOG=1");
      await rx.waitFor(() => pings().length >= 3, "3 watchdog pings");
      // ... and not while the main thread is blocked, although the process runs on: the sleeve
      // worker still carries a ping across the overlay.
      const statuses = await fleet.settled("sleeve");
      const dst = fleet.overlayAddress(statuses.get("edge-2")!, "net1");
      const pause = await fleet.lab.spawn(h, [
        Deno.execPath(),
        "run",
        "-A",
        "--unstable-ffi",
        `${Lab.repoRoot}/tests/tools/inspector_pause.ts`,
        INSPECT,
        "3000",
      ], { logFile: "pause.log" });
      // The pause's own bounds, on the receiver's clock (CLOCK_MONOTONIC).
      const start = BigInt((await pause.waitForLog(/^paused (\d+)$/m, 20_000))[1]);
      const during = await fleet.lab.exec(h, ["ping", "-c", "2", "-i", "0.2", "-W", "1", dst]);
      const end = BigInt((await pause.waitForLog(/^resuming (\d+)$/m, 20_000))[1]);
      await pause.waitForLog(/^resumed$/m, 20_000);
      strictEqual(during.code, 0, `overlay ping while the main loop was paused: ${during.stdout}`);
      const inPause = pings().filter((p) => BigInt(p.t) > start && BigInt(p.t) < end);
      // Unblocked, ~15 pings would arrive in that time; the pause begins as a callback starts,
      // so the last ping before it left ≥ 200 ms earlier (one is allowed for a slow receiver).
      ok(inPause.length <= 1, `${inPause.length} pings while the main loop was blocked`);
      await rx.waitFor(
        () => pings().some((p) => BigInt(p.t) > end),
        "pings again once the loop runs",
      );

      // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
      const beforeHup = rx.got.length;
      const hupAt = monotonicUsec();
      agent.process.kill("SIGHUP"); // `ip netns exec` execs the agent: same pid
      await rx.waitFor(
        (got) => got.slice(beforeHup).some((g) => first(g) === "READY=1"),
        "READY=1 after the reload",
      );
      const reload = rx.got.slice(beforeHup).filter((g) => first(g) !== "WATCHDOG=1");
      const sequence = reload.map(first).filter((l) => !l.startsWith("STATUS="));
      deepStrictEqual(sequence, ["RELOADING=1", "READY=1"], JSON.stringify(reload));
      const m = reload.map((g) => /MONOTONIC_USEC=(\d+)/.exec(g.msg)).find((x) => x !== null);
      ok(m, `RELOADING=1 carries MONOTONIC_USEC: ${JSON.stringify(reload)}`);
      const usec = BigInt(m[1]);
      ok(usec >= hupAt && usec <= monotonicUsec(), `MONOTONIC_USEC=${usec}, SIGHUP at ${hupAt}`);

      // SIGTERM: STOPPING=1, then a clean exit.
      agent.process.kill("SIGTERM");
      await rx.waitFor(has("STOPPING=1"), "STOPPING=1");
      strictEqual((await agent.status).code, 0);
      const stopping = rx.got.findIndex((g) => first(g) === "STOPPING=1");
      const after = rx.got.slice(stopping + 1).filter((g) => g.msg === "WATCHDOG=1");
      strictEqual(after.length, 0, "watchdog pings after STOPPING=1");
      for (const g of rx.got) strictEqual(g.pid, agent.pid, `sender of ${JSON.stringify(g.msg)}`);
      match(await agent.readLog(), /agent up/);
    } finally {
      await rx.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
