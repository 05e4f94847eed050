/**
 * Periodic rekey end to end (#14): two real agents on the sleeve with `rekey_after: 10s` (the
 * shortest weave.yaml allows), a numbered UDP stream each way and a paced TCP transfer each way
 * with SHA-256 while at least three rekeys happen on the existing control connection. No
 * datagram may be lost but one the kernel counted as a receive-buffer overflow at the
 * receiving sleeve socket, every transfer's bytes must match, the control session must be the
 * one it started with (no reconnect), and the sleeve must drop nothing as replayed, forged, of
 * an unknown session, or refused. The packet-limit test beside it: the same with no TCP load,
 * so not one datagram may be lost.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { atLeast, below } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Fleet, randomBytes } from "./lab/fleet.ts";
import { missingOf, startUdpStream, streamResult } from "./lab/udp_streams.ts";
import { watchUdpDrops } from "./lab/udp_drops.ts";
import type { AgentStatus } from "../agent/agent.ts";

const PASSWORD = "rekey test password, long enough to pass the strength check 4417";
// 44 s of stream: at least three rekeys 10 s apart fall inside it.
const STREAM = { count: 11000, rate: 250 };
// 16 MiB each way at 384 KiB/s: about as long as the stream.
const TRANSFER = { bytes: 16 << 20, rate: 384 << 10 };
const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A TCP transfer of `file` at TRANSFER.rate; resolves to [sent, received] "<bytes> <sha256>". */
async function pacedTransfer(
  fleet: Fleet,
  from: string,
  to: string,
  dst: string,
  port: number,
  file: string,
): Promise<[string, string]> {
  const lab = fleet.lab, tool = `${REPO}/tests/tools/tcp_transfer.ts`;
  const run = (
    mode: string,
    ...rest: string[]
  ) => [Deno.execPath(), "run", "-A", tool, mode, dst, String(port), ...rest];
  const recv = await lab.spawn(lab.host(to), run("listen"), { logFile: `recv-${to}-${port}.log` });
  await recv.waitForLog(/listening/, 30_000);
  const sent = await lab.exec(lab.host(from), run("send", file, String(TRANSFER.rate)), {
    timeoutMs: 120_000,
  });
  await Promise.race([recv.status, new Promise((r) => setTimeout(r, 20_000))]);
  await recv.stop();
  const got = (await recv.readLog()).split("\n").find((l) => /^\d+ [0-9a-f]{64}$/.test(l)) ?? "";
  return [sent.stdout.trim(), got];
}

function peerOf(s: AgentStatus, name: string) {
  const p = s.peers.find((p) => p.name === name);
  if (!p) throw new Error(`${s.peer} has no peer ${name}`);
  return p;
}

// Why this test once lost 1 of 11000 datagrams (#14): not the switch. With the sampling of
// tests/lab/udp_drops.ts, a run that lost 1 (edge-2 → edge-1, #7827) showed the kernel
// dropping 8 and 10 datagrams at the *sleeve's* UDP socket (port 6783, RcvbufErrors) on the two
// hosts, while the sleeve itself dropped none (no replay, auth or unknown-session drop, which is
// what a gap in the switch would show). The sleeve's receive buffer is 128 KB on purpose
// (datapath/sleeve/sys/udp.ts: latency behind bulk transfers); the 1 MiB transfers the test
// started every second, each a fresh Deno process at full speed, were the bulk that overflowed
// it while the worker was starved. So the TCP load is now one paced transfer each way across
// the whole stream (the same SHA-256 check, over one connection that lives through every
// rekey), and a datagram may only be missing if the kernel counted a receive-buffer drop for
// it at the receiving sleeve socket; the sleeve's own drop counters must stay zero.
Deno.test(
  "session rekey e2e: three rekeys on the sleeve under a numbered UDP stream and TCP transfers lose nothing",
  LAB,
  async () => {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      extra: ["rekey_after: 10s", "reject_after: 30s"],
    });
    const [a, b] = fleet.lab.hosts;
    const all = await fleet.settled("sleeve", 60_000);
    const sa = all.get(a.name)!, sb = all.get(b.name)!;
    const sessionA = peerOf(sa, b.name).control?.sessionId;
    const sessionB = peerOf(sb, a.name).control?.sessionId;
    const rekeysBefore = peerOf(sa, b.name).rekeys;
    const toA = fleet.overlayAddress(sa, "net1"), toB = fleet.overlayAddress(sb, "net1");

    const drops = watchUdpDrops(fleet.lab, [a.name, b.name]);
    const streams = await Promise.all([
      startUdpStream(fleet, a.name, b.name, toB, 7301, STREAM.count, STREAM.rate, 5, 30),
      startUdpStream(fleet, b.name, a.name, toA, 7302, STREAM.count, STREAM.rate, 5, 30),
    ]);
    // One paced TCP transfer each way, as long as the streams.
    const file = await fleet.lab.writeFile("payload.bin", randomBytes(TRANSFER.bytes));
    const transfers = await Promise.all([
      pacedTransfer(fleet, a.name, b.name, toB, 7400, file),
      pacedTransfer(fleet, b.name, a.name, toA, 7401, file),
    ]);
    const results = await Promise.all(streams.map((s) => streamResult(s)));
    const udp = await drops.stop();

    const after = await fleet.waitForStatus(() => true);
    const pa = peerOf(after.get(a.name)!, b.name), pb = peerOf(after.get(b.name)!, a.name);
    // Where a lost datagram died: a full socket buffer (the kernel counts it), or the sleeve.
    const where = `kernel UDP receive drops ${JSON.stringify(udp)}; sleeve drops ` +
      JSON.stringify({ [a.name]: pa.sleeve?.drops, [b.name]: pb.sleeve?.drops });
    console.log(
      `rekeys ${a.name}:${pa.rekeys} ${b.name}:${pb.rekeys} (before ${rekeysBefore}); ` +
        `${transfers.length} transfers; ${results.join("; ")}; ${where}`,
    );
    for (const [line, to] of [[results[0], b.name], [results[1], a.name]]) {
      // A loss the kernel counted at the receiver's sleeve socket is an overflow, not the rekey.
      const overflowed = udp[to]?.sockets.match(/(?:^|,)6783:(\d+)/)?.[1] ?? "0";
      below(missingOf(line), Number(overflowed) + 1, `missing datagrams (${line}; ${where})`);
    }
    for (const [sent, got] of transfers) strictEqual(got, sent, "transfer bytes");
    atLeast(pa.rekeys - rekeysBefore, 3, `rekeys on ${a.name} during the streams`);
    atLeast(pb.rekeys, 3, `rekeys on ${b.name}`);
    // Same control session throughout: the rekeys ran on the existing connection.
    deepStrictEqual(
      [pa.control?.sessionId, pb.control?.sessionId],
      [sessionA, sessionB],
      "control session ids",
    );
    // The sleeve followed every rekey: it sent under each new epoch and retired the old one,
    // and no step of it failed.
    for (const name of [a.name, b.name]) {
      const log = await fleet.agents.get(name)!.readLog();
      const switched = log.match(/rekey switch-tx .*sleeve=use/g)?.length ?? 0;
      const retired = log.match(/rekey drop-old .*sleeve=retire/g)?.length ?? 0;
      atLeast(switched, 3, `sleeve switches on ${name}`);
      atLeast(retired, 3, `sleeve retirements on ${name}`);
      const failures = log.split("\n").filter((l) =>
        /did not install|sleeve rekey step failed|sleeve update failed|session down/.test(l)
      );
      deepStrictEqual(failures, [], `failures in ${name}'s log`);
    }
    for (const p of [pa, pb]) {
      strictEqual(p.password, "current");
      below(p.keyAgeSeconds ?? Infinity, 20, `key age of ${p.name} (rekey_after 10s)`);
      const d = p.sleeve!.drops;
      deepStrictEqual(
        { replay: d.replay, auth: d.auth, noSession: d.noSession, txRefused: p.sleeve!.txRefused },
        { replay: 0, auth: 0, noSession: 0, txRefused: 0 },
        `sleeve drops towards ${p.name}`,
      );
    }
  },
);

Deno.test(
  "session rekey e2e: a sleeve key at its packet limit asks for a rekey before rekey_after; nothing lost",
  LAB,
  async () => {
    const env = { WEAVE_SLEEVE_REKEY_AFTER_PACKETS: "1500" };
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      envFor: { "edge-1": env, "edge-2": env },
    });
    const [a, b] = fleet.lab.hosts;
    const all = await fleet.settled("sleeve", 60_000);
    const toA = fleet.overlayAddress(all.get(a.name)!, "net1");
    const toB = fleet.overlayAddress(all.get(b.name)!, "net1");
    // 4000 datagrams each way in 10 s, far below rekey_after (120 s): only the limit rekeys.
    const drops = watchUdpDrops(fleet.lab, [a.name, b.name]);
    const streams = await Promise.all([
      startUdpStream(fleet, a.name, b.name, toB, 7311, 4000, 400, 5, 30),
      startUdpStream(fleet, b.name, a.name, toA, 7312, 4000, 400, 5, 30),
    ]);
    const results = await Promise.all(streams.map((s) => streamResult(s)));
    const udp = await drops.stop();
    const after = await fleet.waitForStatus(() => true);
    const pa = peerOf(after.get(a.name)!, b.name), pb = peerOf(after.get(b.name)!, a.name);
    const where = `kernel UDP receive drops ${JSON.stringify(udp)}; sleeve drops ` +
      JSON.stringify({ [a.name]: pa.sleeve?.drops, [b.name]: pb.sleeve?.drops });
    console.log(
      `packet-limit rekeys ${a.name}:${pa.rekeys} ${b.name}:${pb.rekeys}; ${results.join("; ")}; ` +
        where,
    );
    for (const line of results) strictEqual(missingOf(line), 0, `${line}; ${where}`);
    atLeast(Math.min(pa.rekeys, pb.rekeys), 2, "rekeys asked for by the packet limit");
    const log = await fleet.agents.get(a.name)!.readLog();
    atLeast(log.match(/sleeve key rekey-due: rekey/g)?.length ?? 0, 1, "rekey-due reports");
    for (const p of [pa, pb]) strictEqual(p.sleeve!.txRefused, 0, `txRefused towards ${p.name}`);
  },
);
