/**
 * sd_notify against a real unix datagram socket bound by an independent receiver (Python's
 * socket module), for a path and an abstract name; the watchdog stops while the main loop is
 * blocked. No root needed.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import {
  monotonicUsec,
  notifySockaddr,
  SystemdNotifier,
  watchdogIntervalMs,
} from "./systemd_notify.ts";
import { NotifyReceiver as Receiver } from "../../tests/lab/notify_receiver.ts";

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });

Deno.test("sd_notify: sockaddr_un for a path (NUL-terminated) and an abstract name (leading NUL)", () => {
  const p = notifySockaddr("/run/systemd/notify");
  strictEqual(p.length, 2 + "/run/systemd/notify".length + 1);
  deepStrictEqual([...p.addr.subarray(0, 3)], [1, 0, "/".charCodeAt(0)]);
  strictEqual(p.addr[2 + "/run/systemd/notify".length], 0);
  const a = notifySockaddr("@weave/notify");
  strictEqual(a.length, 2 + 1 + "weave/notify".length);
  deepStrictEqual([...a.addr.subarray(0, 4)], [1, 0, 0, "w".charCodeAt(0)]);
  throws(() => notifySockaddr("relative/path"), /NOTIFY_SOCKET="relative\/path"/);
  throws(() => notifySockaddr("/" + "x".repeat(107)), /at most 107 bytes/);
  throws(() => notifySockaddr("@"), /NOTIFY_SOCKET/);
});

Deno.test("sd_notify: outside systemd (no NOTIFY_SOCKET) nothing is sent", () => {
  const n = new SystemdNotifier({ env: env({}) });
  strictEqual(n.enabled, false);
  strictEqual(n.ready(), false);
  strictEqual(n.reloading(), false);
  strictEqual(n.stopping(), false);
  strictEqual(n.watchdogMs, null);
});

Deno.test("sd_notify: WATCHDOG_USEC in ms, and only when WATCHDOG_PID is ours or unset", () => {
  strictEqual(watchdogIntervalMs(env({ WATCHDOG_USEC: "30000000" })), 30_000);
  strictEqual(
    watchdogIntervalMs(env({ WATCHDOG_USEC: "2000000", WATCHDOG_PID: `${Deno.pid}` })),
    2000,
  );
  strictEqual(watchdogIntervalMs(env({ WATCHDOG_USEC: "2000000", WATCHDOG_PID: "1" })), null);
  strictEqual(watchdogIntervalMs(env({ WATCHDOG_USEC: "0" })), null);
  strictEqual(watchdogIntervalMs(env({})), null);
});

for (const kind of ["path", "abstract"] as const) {
  Deno.test(`sd_notify: READY, RELOADING with MONOTONIC_USEC, STATUS, STOPPING over ${kind === "path" ? "a path" : "an abstract"} socket`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weave-notify-" });
    const name = kind === "path"
      ? `${dir}/notify.sock`
      : `@weave-notify-test-${crypto.randomUUID()}`;
    const rx = await Receiver.start(name);
    try {
      const n = new SystemdNotifier({ env: env({ NOTIFY_SOCKET: name }) });
      ok(n.ready("1/2 peers up"), "ready sent");
      const before = monotonicUsec();
      ok(n.reloading(), "reloading sent");
      const after = monotonicUsec();
      ok(n.ready(), "ready sent");
      ok(n.status("2/2 peers up"), "status sent");
      strictEqual(n.status("2/2 peers up"), false, "an unchanged status is not resent");
      ok(n.stopping(), "stopping sent");
      await rx.waitFor((g) => g.length >= 5, "five datagrams");
      deepStrictEqual(rx.got.map((g) => g.msg.split("\n")[0]), [
        "READY=1",
        "RELOADING=1",
        "READY=1",
        "STATUS=2/2 peers up",
        "STOPPING=1",
      ]);
      strictEqual(rx.got[0].msg, "READY=1\nSTATUS=1/2 peers up");
      strictEqual(rx.got[0].pid, Deno.pid, "SCM_CREDENTIALS names this process");
      // MONOTONIC_USEC is CLOCK_MONOTONIC, the clock the receiver reads too.
      const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(rx.got[1].msg);
      ok(m, rx.got[1].msg);
      const usec = BigInt(m[1]);
      ok(before <= usec && usec <= after, `${before} <= ${usec} <= ${after}`);
      ok(BigInt(rx.got[1].t) >= usec, `received at ${rx.got[1].t}, stamped ${usec}`);
    } finally {
      await rx.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("sd_notify: a send to a socket nobody listens on fails quietly, reported once", () => {
  const errors: string[] = [];
  const n = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: `@weave-nobody-${crypto.randomUUID()}` }),
    onError: (m) => errors.push(m),
  });
  strictEqual(n.ready(), false);
  strictEqual(n.ready(), false);
  strictEqual(errors.length, 1, JSON.stringify(errors));
});

Deno.test("sd_notify: the watchdog is answered from the main loop: no pings while it is blocked or unhealthy", async () => {
  const name = `@weave-watchdog-test-${crypto.randomUUID()}`;
  const rx = await Receiver.start(name);
  const n = new SystemdNotifier({ env: env({ NOTIFY_SOCKET: name, WATCHDOG_USEC: "100000" }) });
  try {
    strictEqual(n.watchdogMs, 100);
    let healthy = true;
    let ticks = 0;
    n.startTicker({ healthy: () => healthy, summary: () => `tick ${++ticks}` });
    const pings = () => rx.got.filter((g) => g.msg === "WATCHDOG=1");
    await rx.waitFor((g) => g.some((x) => x.msg === "STATUS=tick 1"), "the first STATUS");
    await rx.waitFor((g) => g.filter((x) => x.msg === "WATCHDOG=1").length >= 5, "5 pings");

    // Block the main loop: the timer cannot fire, so nothing is sent meanwhile.
    const start = monotonicUsec();
    const blockUntil = Date.now() + 1500;
    while (Date.now() < blockUntil) { /* a wedged event loop */ }
    const end = monotonicUsec();
    const inBlock = pings().filter((p) => BigInt(p.t) > start && BigInt(p.t) < end).length;
    await rx.waitFor(
      (g) => g.some((p) => p.msg === "WATCHDOG=1" && BigInt(p.t) > end),
      "a ping after the loop is free again",
    );
    // A healthy loop sends ~15 in that time; a ping sent just before the block may still be
    // read by the receiver after it began.
    ok(inBlock <= 1, `${inBlock} pings received while the main loop was blocked`);

    // Unhealthy: the loop runs (ticks go on) but no pings are sent.
    healthy = false;
    await new Promise((r) => setTimeout(r, 120)); // let a ping already in flight land
    const sent = pings().length;
    const ticksBefore = ticks;
    while (ticks < ticksBefore + 4) await new Promise((r) => setTimeout(r, 20));
    strictEqual(pings().length, sent, "pings while unhealthy");
  } finally {
    n.stopTicker();
    await rx.stop();
  }
});
