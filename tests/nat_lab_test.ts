/**
 * A box behind NAT (#15), with real agents: edge-2 sits behind nat-1 (nft masquerade), has no
 * address in weave.yaml and carries a key; edge-1 is public. edge-2 dials edge-1 (nobody can
 * dial edge-2), the sleeve on edge-1 starts from the control connection's source address and
 * learns the NAT's UDP mapping from edge-2's authenticated keepalive; edge-2 dials edge-3 (also
 * public) too. Then: overlay ping and a TCP transfer with matching bytes both ways; edge-1's
 * status (JSON and text) shows the learned endpoint and why the pair is on the sleeve;
 * keepalives flow only across the NAT (none between edge-1 and edge-3). The attacker:
 * datagrams replayed or forged from another address (nat-1's own, another port) do not move
 * the endpoint; a process at an address no peer has, with the fleet password, claiming
 * edge-2's name with a key of its own, is refused by edge-1 and the real edge-2's session is
 * untouched.
 */

import { deepStrictEqual, notStrictEqual, strictEqual } from "node:assert";
import { above, includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { cli, randomBytes, transfer } from "./lab/fleet.ts";
import {
  addNatBox,
  allUp,
  startKeyedAgent,
  statusOf,
  waitForAll,
  writeKeyedFleet,
} from "./lab/nat.ts";
import type { AgentStatus } from "../agent/agent.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PASSWORD = "nat lab test password, long enough for the strength check 1515";
const PORT = 6783;

function peerOf(s: AgentStatus, name: string) {
  const p = s.peers.find((p) => p.name === name);
  if (!p) throw new Error(`${s.peer} has no peer ${name}`);
  return p;
}

async function ping(lab: Lab, from: LabHost, to: string) {
  const r = await lab.exec(from, ["ping", "-c", "3", "-i", "0.2", "-W", "2", to]);
  strictEqual(r.code, 0, `ping ${from.name} -> ${to}: ${r.stdout}${r.stderr}`);
}

Deno.test(
  "nat lab: a dial-out-only box behind nft masquerade reaches the public boxes",
  LAB,
  async () => {
    await using lab = await Lab.create({ hosts: ["edge-1", "nat-1", "edge-3"] });
    const e1 = lab.host("edge-1"), router = lab.host("nat-1"), e3 = lab.host("edge-3");
    const box = await addNatBox(lab, router, "edge-2");
    const e2 = lab.host("edge-2");
    const configs = await writeKeyedFleet(
      lab,
      [
        { name: "edge-1", address: e1.address },
        { name: "edge-2" },
        { name: "edge-3", address: e3.address },
      ],
      PASSWORD,
      ["nat_keepalive: 5s"],
    );
    try {
      // edge-1's underlay cannot reach the private link: only the NAT makes the pair possible.
      const direct = await lab.exec(e1, ["ping", "-c", "1", "-W", "1", box.privateAddress]);
      notStrictEqual(direct.code, 0, "edge-1 reaches the box behind NAT directly");

      const a1 = await startKeyedAgent(lab, e1, configs);
      const a2 = await startKeyedAgent(lab, e2, configs);
      const a3 = await startKeyedAgent(lab, e3, configs);
      for (const a of [a1, a2, a3]) await a.waitForLog(/agent up/, 60_000);
      const up = await waitForAll(
        lab,
        [e1, e2, e3],
        (s) =>
          allUp(s) && s.peers.every((p) => p.datapath === "sleeve") &&
          (s.peer === "edge-2" || peerOf(s, "edge-2").learnedEndpoint?.source === "sleeve") &&
          // The endpoint may be learned from other sleeve traffic first: wait for a keepalive
          // too (the first goes out at session start, the next after an idle interval).
          (s.peer !== "edge-1" || (peerOf(s, "edge-2").sleeve?.keepalivesIn ?? 0) > 0),
        60_000,
      );
      const s1 = up.get("edge-1")!, s2 = up.get("edge-2")!, s3 = up.get("edge-3")!;
      const v12 = peerOf(s1, "edge-2"), v21 = peerOf(s2, "edge-1");
      console.log(`edge-1 sees edge-2: ${JSON.stringify(v12.learnedEndpoint)}; why: ${v12.reason}`);
      deepStrictEqual([v12.address, v12.reach, v21.reach, s2.address], [
        "dial-out only",
        "dial-out",
        "dials-out",
        "dial-out only",
      ]);
      // The learned endpoint is the NAT's public address (the router's), never the private one.
      includes(v12.learnedEndpoint!.endpoint, `${router.address}:`, "edge-2's learned endpoint");
      includes(v12.reason, "no fixed underlay address", "why edge-1 uses the sleeve with edge-2");
      includes(v21.reason, "no fixed underlay address", "why edge-2 uses the sleeve with edge-1");
      // edge-2 dialled; edge-1 never dialled it.
      strictEqual(v12.control?.dials ?? -1, 0, "edge-1's dials to edge-2");
      above(v21.control?.dials ?? 0, 0, "edge-2's dials to edge-1");
      above(v12.sleeve?.keepalivesIn ?? 0, 0, "keepalives edge-1 got from edge-2");
      above(peerOf(s2, "edge-3").control?.dials ?? 0, 0, "edge-2's dials to edge-3");
      includes(
        peerOf(s3, "edge-2").learnedEndpoint!.endpoint,
        `${router.address}:`,
        "edge-3's view of edge-2",
      );
      // Keepalives only across the NAT: the pair of fixed boxes gets none.
      deepStrictEqual(
        [peerOf(s1, "edge-3").sleeve?.keepalivesOut, peerOf(s3, "edge-1").sleeve?.keepalivesOut],
        [0, 0],
        "keepalives between edge-1 and edge-3 (both fixed)",
      );
      above(peerOf(s2, "edge-1").sleeve?.keepalivesOut ?? 0, 0, "keepalives edge-2 sent edge-1");
      const human = await cli(lab, e1, ["status", "--name", "edge-1"]);
      includes(
        human.stdout,
        `  edge-2 (dial-out only): endpoint ${v12.learnedEndpoint!.endpoint} from its last ` +
          "authenticated datagram",
        "edge-1's status",
      );

      const o1 = s1.networks[0].address, o2 = s2.networks[0].address;
      await ping(lab, e1, o2);
      await ping(lab, e2, o1);
      const file = await lab.writeFile("payload.bin", randomBytes(2 * 1024 * 1024));
      const [sent12, got12] = await transfer({ lab }, "edge-1", "edge-2", o2, 5001, file);
      strictEqual(got12, sent12, "edge-1 -> edge-2 over NAT: size and sha256");
      const [sent21, got21] = await transfer({ lab }, "edge-2", "edge-1", o1, 5002, file);
      strictEqual(got21, sent21, "edge-2 -> edge-1 over NAT: size and sha256");
      console.log(`transfers: ${sent12} both ways`);

      // The attacker on the underlay: edge-2's datagrams captured on edge-1's link, then sent
      // again, or forged, from nat-1's own socket (another source port than the NAT mapping).
      const pcap = `${lab.runDir}/nat-capture.pcap`;
      const dump = await lab.spawn(e1, [
        "tcpdump",
        "-i",
        e1.link,
        "-U",
        "--immediate-mode",
        "-w",
        pcap,
        "udp",
        "dst",
        "port",
        String(PORT),
        "and",
        "src",
        "host",
        router.address,
      ], { logFile: "tcpdump-nat.log" });
      await dump.waitForLog(/listening on/, 10_000);
      await ping(lab, e2, o1);
      await new Promise((r) => setTimeout(r, 500));
      await dump.stop("SIGINT");
      const before = peerOf((await statusOf(lab, e1))!, "edge-2");
      for (const mode of ["replay", "forge"]) {
        const r = await lab.exec(router, [
          "python3",
          `${REPO}/tests/tools/udp_resend.py`,
          pcap,
          e1.address,
          String(PORT),
          mode,
          "20",
        ], { check: true });
        above(Number(r.stdout.trim()), 0, `${mode}ed datagrams sent`);
      }
      await new Promise((r) => setTimeout(r, 1000));
      const after = peerOf((await statusOf(lab, e1))!, "edge-2");
      deepStrictEqual(
        after.learnedEndpoint?.endpoint,
        before.learnedEndpoint?.endpoint,
        "edge-2's endpoint after replayed and forged datagrams from another address",
      );
      above(after.sleeve!.drops.replay, before.sleeve!.drops.replay, "replays dropped");
      above(after.sleeve!.drops.auth, before.sleeve!.drops.auth, "forgeries dropped");
      await ping(lab, e1, o2);

      // An impostor at an address no peer has (the router's), with the fleet password, claiming
      // edge-2 (which may connect from anywhere) with a key of its own: refused on the key.
      const session = peerOf((await statusOf(lab, e1))!, "edge-2").control?.sessionId;
      const imp = await lab.exec(router, [
        Deno.execPath(),
        "run",
        "-A",
        `${REPO}/tests/tools/impostor_dial.ts`,
        "edge-2",
        `${lab.runDir}/secret.txt`,
        e1.address,
        String(PORT),
        "edge-1",
      ], { timeoutMs: 30_000 });
      const verdict = /verdict (.*)/.exec(imp.stdout)?.[1] ?? `none: ${imp.stdout} ${imp.stderr}`;
      console.log(`impostor from ${router.address}: ${verdict}`);
      notStrictEqual(verdict, "up", "the impostor got a session");
      includes(verdict, "key", "the impostor's refusal");
      await ping(lab, e1, o2);
      const still = peerOf((await statusOf(lab, e1))!, "edge-2");
      deepStrictEqual(
        [still.state, still.control?.sessionId, still.learnedEndpoint?.endpoint],
        ["up", session, before.learnedEndpoint?.endpoint],
        "edge-1's view of the real edge-2 after the impostor",
      );
      const log = await a1.readLog();
      strictEqual(
        (log.match(/peer endpoint changed/g) ?? []).length,
        1,
        "endpoint changes logged by edge-1 (control guess, then the NAT's mapping)",
      );
    } catch (e) {
      lab.markFailed();
      throw e;
    }
  },
);
