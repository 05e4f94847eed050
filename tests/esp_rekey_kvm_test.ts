/**
 * ESP re-keying on a real ESP kernel (#14): two hosts set up by the planner's exact commands
 * inside a Debian kernel under qemu (../shared/tools/kvm-esp), a ping stream crossing the
 * overlay through ESP, and three rekeys while it runs. Each rekey walks the agent's steps in
 * the order the rekey protocol gives them (`agent/control/rekey.ts`): the responder installs
 * the new inbound SA (3), the initiator installs and switches (4), the responder switches (5),
 * both drop the old inbound SA a grace later. The SAs each side wants come from the agent's
 * own bookkeeping (`agent/session_epochs.ts`) with real rekey key sets, and the `ip xfrm`
 * commands from the host planner, exactly as the agent would run them.
 *
 * Checked in the VM: not one ping lost across the three rekeys, every new outbound SA carries
 * packets right after its switch, no packet for an unknown SPI (XfrmInNoStates) or refused by
 * policy, and at the end each host holds exactly the last epoch's two SAs. Opt-in like the
 * other kvm-esp tests (WEAVE_KVM_ESP=1, `deno task test:kvm`): about a minute.
 */

import { strictEqual } from "node:assert";
import { deriveSessionKeySet } from "../agent/control/key_schedule.ts";
import type { SessionSecrets } from "../agent/control/mod.ts";
import { SessionEpochs } from "../agent/session_epochs.ts";
import { deriveEspKeys } from "../datapath/fastdp/mod.ts";
import { type DesiredHost, EMPTY_OBSERVED, type ObservedHost } from "../datapath/host/desired.ts";
import { planHost } from "../datapath/host/plan.ts";
import { planEsp } from "../datapath/host/plan_esp.ts";
import { vxlanEspMtu } from "../datapath/mtu.ts";

const RUN = Deno.env.get("WEAVE_KVM_ESP_RUN") ??
  ["../../shared/tools/kvm-esp/run.sh", "../../../shared/tools/kvm-esp/run.sh"]
    .map((p) => new URL(p, import.meta.url).pathname)
    .find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    }) ??
  "/work/shared/tools/kvm-esp/run.sh";

const A = "192.168.77.1", B = "192.168.77.2";
const REKEYS = 3;

interface Side {
  ns: "a" | "b";
  peer: string;
  local: string;
  remote: string;
  overlay: string;
  secrets: SessionSecrets;
  epochs: SessionEpochs;
  observed: ObservedHost;
}

function makeSide(ns: "a" | "b"): Side {
  const dialer = ns === "a";
  const secrets = {
    sessionKey: new Uint8Array(32).fill(0x42),
    dialerNonce: new Uint8Array(32).fill(0xd1),
    listenerNonce: new Uint8Array(32).fill(0x1e),
    localIsDialer: dialer,
    authenticated: true,
    id: 1,
  } satisfies SessionSecrets;
  const peer = dialer ? "b" : "a";
  const epochs = new SessionEpochs();
  epochs.sessionUp(peer, secrets);
  return {
    ns,
    peer,
    local: dialer ? A : B,
    remote: dialer ? B : A,
    overlay: dialer ? "10.42.0.1" : "10.42.0.2",
    secrets,
    epochs,
    observed: EMPTY_OBSERVED,
  };
}

/** The side's desired host now: VXLAN 4242 over ESP, the SAs its epochs want. */
function desired(s: Side): DesiredHost {
  const handshake = () => deriveEspKeys(s.secrets);
  return {
    underlay: { address: s.local, family: 4 },
    vxlanPort: 4789,
    networks: [{
      name: "net1",
      vni: 4242,
      mtu: vxlanEspMtu(1500, 4),
      address: s.overlay,
      prefixLength: 24,
      sleeve: false,
      fastdp: true,
      fdb: [{ peer: s.peer, underlay: s.remote, macs: [] }],
    }],
    esp: [{
      peer: s.peer,
      local: s.local,
      remote: s.remote,
      ...(s.epochs.esp(s.peer, handshake) ?? handshake()),
    }],
  };
}

/** What the kernel holds after `changes` (the SA part), for planning the next step. */
function applied(s: Side, changes: ReturnType<typeof planHost>): ObservedHost {
  let sas = [...s.observed.sas];
  const policies = [...s.observed.policies];
  for (const c of changes) {
    const a = c.args, at = (k: string) => a[a.indexOf(k) + 1];
    if (c.kind === "xfrm-state") {
      const spi = parseInt(at("spi"), 16);
      if (a[2] === "delete") sas = sas.filter((x) => !(x.dst === at("dst") && x.spi === spi));
      else if (a[2] === "add") {
        sas.push({
          src: at("src"),
          dst: at("dst"),
          spi,
          reqid: Number(at("reqid")),
          keyHex: at("rfc4106(gcm(aes))").slice(2),
        });
      }
    } else if (c.kind === "xfrm-policy" && a[2] === "add") {
      const dir = at("dir") as "in" | "out";
      policies.push({
        src: at("src").split("/")[0],
        dst: at("dst").split("/")[0],
        dir,
        dport: Number(at("dport")),
        reqid: Number(at("reqid")),
      });
    }
  }
  return { ...s.observed, sas, policies };
}

/** The ESP commands one rekey step takes on a side, as `ip -n NS ...` lines. */
function espStep(s: Side): string[] {
  const p = planEsp(desired(s), s.observed);
  const changes = [...p.add, ...p.remove];
  s.observed = applied(s, changes);
  // Quoted for the VM's shell (the AEAD name has parentheses).
  return changes.map((c) => `ip -n ${s.ns} ${c.args.map((x) => `'${x}'`).join(" ")}`);
}

const spiHex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

Deno.test({
  name: "kvm-esp: three ESP rekeys make-before-break under a ping stream lose nothing",
  ignore: Deno.env.get("WEAVE_KVM_ESP") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wv-kvm-rekey-" });
    const a = makeSide("a"), b = makeSide("b");
    const batch = (s: Side, dev: string) => {
      const changes = planHost(desired(s), EMPTY_OBSERVED);
      s.observed = applied(s, changes);
      const ip = [`address add ${s.local}/24 dev ${dev}`, `link set ${dev} up`];
      const bridge: string[] = [];
      for (const c of changes) {
        if (c.tool === "ip") ip.push(c.args.join(" "));
        else if (c.tool === "bridge") bridge.push(`ns_${s.ns} bridge ${c.args.join(" ")}`);
      }
      return { batch: ip.join("\n") + "\n", bridge };
    };
    const ba = batch(a, "veth-a"), bb = batch(b, "veth-b");
    const lines: string[] = [
      `A=${A} B=${B}`,
      'not() { ! "$@"; }',
      // Packets of the SA with SPI $2 in namespace $1 (its "lifetime current" counter).
      `spi_pkts() { ip -n "$1" -s xfrm state | awk -v s="$2(" 'index($0, "spi " s) {f=1} f && /lifetime current:/ {getline; gsub(/[(),]/," "); print $3; exit}'; }`,
      "sa_count() { ip -n \"$1\" xfrm state | grep -c '^src'; }",
      ...ba.bridge,
      ...bb.bridge,
      'check "overlay ping before the rekeys" ns_a ping -c 2 -W 3 10.42.0.2',
      // The stream: 20 pings a second for the whole run, both directions (echo and reply).
      "ns_a ping -i 0.05 -c 400 -W 2 10.42.0.2 > /tmp/stream.txt 2>&1 &",
      "STREAM=$!",
      "sleep 2",
    ];
    const spis: { epoch: number; aOut: number; bOut: number }[] = [];
    for (let epoch = 1; epoch <= REKEYS; epoch++) {
      const keys = deriveSessionKeySet(
        crypto.getRandomValues(new Uint8Array(32)),
        crypto.getRandomValues(new Uint8Array(32)),
        0x1000 + epoch,
        0x2000 + epoch,
      );
      const ev = (s: Side, action: Parameters<SessionEpochs["step"]>[0]["action"]) =>
        s.epochs.step({ peer: s.peer, session: 1, action }, s.secrets, 7, "aes-256-gcm");
      lines.push(`echo "REKEY ${epoch}: begin"`);
      // 3: the responder installs the new inbound SA.
      ev(b, { type: "install-rx", epoch, keys, password: "current" });
      lines.push(...espStep(b), "sleep 0.3");
      // 4: the initiator installs, then switches.
      ev(a, { type: "install-rx", epoch, keys, password: "current" });
      lines.push(...espStep(a), "sleep 0.3");
      ev(a, { type: "switch-tx", epoch });
      lines.push(...espStep(a), "sleep 0.3");
      // 5: the responder switches.
      ev(b, { type: "switch-tx", epoch });
      lines.push(...espStep(b), "sleep 0.5");
      const aOut = desired(a).esp[0].out.spi, bOut = desired(b).esp[0].out.spi;
      spis.push({ epoch, aOut, bOut });
      lines.push(
        `check "rekey ${epoch}: a sends under its new SA" gt "$(spi_pkts a ${spiHex(aOut)})" 0`,
        `check "rekey ${epoch}: b sends under its new SA" gt "$(spi_pkts b ${spiHex(bOut)})" 0`,
      );
      // A grace later both drop the old inbound SA.
      ev(a, { type: "drop-old", epoch });
      ev(b, { type: "drop-old", epoch });
      lines.push(...espStep(a), ...espStep(b), "sleep 1");
    }
    lines.push(
      "wait $STREAM || true",
      "cat /tmp/stream.txt | tail -3",
      "RECV=$(sed -n 's/.* \\([0-9]*\\) packets received.*/\\1/p' /tmp/stream.txt)",
      'echo "STREAM received $RECV of 400"',
      'check "not one ping lost across the rekeys" eq "$RECV" 400',
      'check "no packet for an unknown SPI on a" eq "$(xfrm_stat a XfrmInNoStates)" 0',
      'check "no packet for an unknown SPI on b" eq "$(xfrm_stat b XfrmInNoStates)" 0',
      'check "no outbound packet without an SA" eq "$(xfrm_stat a XfrmOutNoStates)" 0',
      'check "nothing refused by policy" eq "$(xfrm_stat b XfrmInTmplMismatch)" 0',
      'check "a holds exactly the last epoch\'s two SAs" eq "$(sa_count a)" 2',
      'check "b holds exactly the last epoch\'s two SAs" eq "$(sa_count b)" 2',
      `check "the last epoch's SA is a's outbound" gt "$(spi_pkts a ${
        spiHex(spis.at(-1)!.aOut)
      })" 0`,
      'ip -n a -s xfrm state | grep -E "^src|spi|packets\\)"',
      "",
    );
    // Epoch 0's session key was wiped once epoch 0 was retired (first drop-old).
    strictEqual([...new Set(a.secrets.sessionKey)].join(), "0");
    await Deno.writeTextFile(`${dir}/a.batch`, ba.batch);
    await Deno.writeTextFile(`${dir}/b.batch`, bb.batch);
    await Deno.writeTextFile(`${dir}/checks.sh`, lines.join("\n"));
    const log = `${dir}/console.log`;
    const o = await new Deno.Command("bash", {
      args: [RUN, "--quiet", "--timeout", "300", "--log", log, ...[
        `${dir}/a.batch`,
        `${dir}/b.batch`,
        `${dir}/checks.sh`,
      ]],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    const vm = await Deno.readTextFile(log).catch(() => "");
    console.log(
      [...text.split("\n"), ...vm.split("\n")]
        .filter((l) => /CHECK|REKEY|STREAM|packet loss|PASS|FAIL|Error/.test(l)).join("\n"),
    );
    strictEqual(o.code, 0, text.slice(-3000));
    await Deno.remove(dir, { recursive: true });
  },
});
