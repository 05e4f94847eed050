/**
 * Make-before-break rekeying on the real packet path: two sleeves (real workers, TAPs and UDP
 * sockets in lab namespaces, driven by tests/tools/sleeve_driver.ts) move through three new
 * sessions while a numbered UDP stream runs both ways; not one datagram may be lost, and
 * nothing may be dropped as replayed, forged or of an unknown session.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { Lab, type LabHost, type LabProcess } from "./lab/lab.ts";
import { LAB } from "./lab/gate.ts";

const TAP = "wst0";
const PORT = 6790;
const STREAM_PORT = 7790;
const COUNT = 6000;
const RATE = 1000;

async function tap(lab: Lab, h: LabHost, ip: string, mac: string, peerIp: string, peerMac: string) {
  const run = (argv: string[]) => lab.exec(h, argv, { check: true });
  await run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap", "multi_queue", "vnet_hdr"]);
  await run(["ip", "link", "set", TAP, "address", mac, "mtu", "1400", "up"]);
  await run(["ip", "addr", "add", `${ip}/24`, "dev", TAP]);
  // No ARP during the stream: its first datagrams must not wait in a neighbour queue.
  await run(["ip", "neigh", "replace", peerIp, "lladdr", peerMac, "dev", TAP, "nud", "permanent"]);
}

class Driver {
  #n = 0;
  private constructor(readonly proc: LabProcess, private readonly file: string) {}

  static async start(lab: Lab, h: LabHost, peer: LabHost, dialer: boolean): Promise<Driver> {
    const file = await lab.writeFile(`commands-${h.name}`, "");
    const proc = await lab.spawn(h, [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-ffi",
      `${Lab.repoRoot}/tests/tools/sleeve_driver.ts`,
      "--listen",
      h.address,
      "--port",
      String(PORT),
      "--tap",
      TAP,
      "--vni",
      "4242",
      "--mtu",
      "1400",
      "--peer-address",
      peer.address,
      "--commands",
      file,
      ...(dialer ? ["--dialer"] : []),
    ], { logFile: `driver-${h.name}.log` });
    await proc.waitForLog(/driver ready/, 30_000);
    return new Driver(proc, file);
  }

  /** Runs one command; resolves with its result line. */
  async run(cmd: string): Promise<string> {
    await Deno.writeTextFile(this.file, cmd + "\n", { append: true });
    const n = ++this.#n;
    const [, result] = await this.proc.waitForLog(new RegExp(`done ${n} (.*)`), 15_000);
    return result;
  }
}

Deno.test(
  "sleeve rekey e2e: three make-before-break switches under a numbered UDP stream lose nothing",
  LAB,
  async () => {
    await using lab = await Lab.create({ hosts: 2 });
    const [a, b] = lab.hosts;
    await tap(lab, a, "10.77.0.1", "02:00:00:00:77:01", "10.77.0.2", "02:00:00:00:77:02");
    await tap(lab, b, "10.77.0.2", "02:00:00:00:77:02", "10.77.0.1", "02:00:00:00:77:01");
    const da = await Driver.start(lab, a, b, true);
    const db = await Driver.start(lab, b, a, false);
    const both = async (ca: string, cb: string) =>
      deepStrictEqual(await Promise.all([da.run(ca), db.run(cb)]), ["ok", "ok"], `${ca} / ${cb}`);
    await both("session s1 11 21", "session s1 21 11");

    const stream = (from: LabHost, to: LabHost, toIp: string, count = COUNT, tag = "") => ({
      recv: lab.spawn(to, [
        "python3",
        `${Lab.repoRoot}/tests/tools/udp_stream.py`,
        "recv",
        toIp,
        String(STREAM_PORT),
        String(count),
        "2",
      ], { logFile: `recv${tag}-${to.name}.log` }),
      send: () =>
        lab.spawn(from, [
          "python3",
          `${Lab.repoRoot}/tests/tools/udp_stream.py`,
          "send",
          toIp,
          String(STREAM_PORT),
          String(count),
          String(RATE),
        ], { logFile: `send${tag}-${from.name}.log` }),
    });
    const ab = stream(a, b, "10.77.0.2");
    const ba = stream(b, a, "10.77.0.1");
    const receivers = await Promise.all([ab.recv, ba.recv]);
    await Promise.all(receivers.map((r) => r.waitForLog(/listening/, 10_000)));
    const senders = await Promise.all([ab.send(), ba.send()]);

    // Three switches while the stream runs (6 s): install on both, move both, retire the old.
    for (
      const [seed, la, lb, oldA, oldB] of [
        ["s2", 12, 22, 11, 21],
        ["s3", 13, 23, 12, 22],
        ["s4", 14, 24, 13, 23],
      ] as const
    ) {
      await new Promise((r) => setTimeout(r, 700));
      await both(`install ${seed} ${la} ${lb}`, `install ${seed} ${lb} ${la}`);
      await both(`use ${la}`, `use ${lb}`);
      // Datagrams sealed under the old session may still be in flight: retire it a little later.
      await new Promise((r) => setTimeout(r, 300));
      await both(`retire ${oldA}`, `retire ${oldB}`);
    }
    await Promise.all(senders.map((s) => s.status));
    const results = await Promise.all(
      receivers.map(async (r) =>
        (await r.waitForLog(/received \d+ of \d+ missing \d+.*/, 20_000))[0]
      ),
    );
    // On a failure, say where the datagrams went: the sleeves' counters and each kernel's view.
    const where = async () =>
      JSON.stringify({
        a: await da.run("counters"),
        b: await db.run("counters"),
        kernelB: (await lab.exec(b, ["nstat", "-az", "IpInReceives", "UdpInDatagrams"])).stdout,
        kernelA: (await lab.exec(a, ["nstat", "-az", "IpInReceives", "UdpInDatagrams"])).stdout,
      });
    for (const [i, line] of results.entries()) {
      const got = line.replace(/ first-missing .*/, "");
      const want = `received ${COUNT} of ${COUNT} missing 0`;
      if (got !== want) {
        strictEqual(got, want, `${i === 0 ? "a->b" : "b->a"}: ${line}; ${await where()}`);
      }
    }
    for (const d of [da, db]) {
      const c = JSON.parse(await d.run("counters"));
      deepStrictEqual(
        {
          replay: c.drops.replay,
          auth: c.drops.auth,
          noSession: c.drops.noSession,
          txRefused: c.txRefused,
        },
        { replay: 0, auth: 0, noSession: 0, txRefused: 0 },
        JSON.stringify(c),
      );
    }
    // Nothing is dispatched from a closed session: once A retires the session B still sends
    // under, B's datagrams are dropped (and counted), never delivered.
    strictEqual(await da.run("retire 14"), "ok");
    const late = stream(b, a, "10.77.0.1", 50, "late");
    const lateRecv = await late.recv;
    await lateRecv.waitForLog(/listening/, 10_000);
    await (await late.send()).status;
    const [lateLine] = await lateRecv.waitForLog(/received \d+ of 50.*/, 20_000);
    strictEqual(lateLine.replace(/ missing .*/, ""), "received 0 of 50", lateLine);
    const after = JSON.parse(await da.run("counters"));
    ok(after.drops.noSession >= 50, `noSession=${after.drops.noSession}, want >= 50`);
  },
);
