/**
 * The encrypted fast datapath, for real, on a kernel that has ESP and AES-GCM: the planner's
 * exact commands for two hosts are applied with `ip -batch` inside a Debian kernel under qemu
 * (../shared/tools/kvm-esp), then traffic crosses the overlay and the checks read the SA
 * counters, the wire and /proc/net/xfrm_stat. It takes about a minute, so it runs when
 * WEAVE_KVM_ESP=1 (CI time is bounded); `deno task test:kvm` runs it.
 */

import { strictEqual } from "node:assert";
import { deriveEspKeys } from "./esp_keys.ts";
import { type DesiredHost, EMPTY_OBSERVED as empty } from "../host/desired.ts";
import { planHost } from "../host/plan.ts";
import { vxlanEspMtu } from "../mtu.ts";

const RUN = new URL("../../../shared/tools/kvm-esp/run.sh", import.meta.url).pathname;

/** One side's desired state: VXLAN on the harness's default port, ESP to the other side. */
function side(local: string, remote: string, overlay: string, dialer: boolean): DesiredHost {
  const secrets = {
    sessionKey: new Uint8Array(32).fill(0x42),
    dialerNonce: new Uint8Array(32).fill(0xd1),
    listenerNonce: new Uint8Array(32).fill(0x1e),
    localIsDialer: dialer,
  };
  return {
    underlay: { address: local, family: 4 },
    vxlanPort: 4789,
    networks: [{
      name: "net1",
      vni: 4242,
      mtu: vxlanEspMtu(1500, 4),
      address: overlay,
      prefixLength: 24,
      sleeve: false,
      fastdp: true,
      fdb: [{ peer: dialer ? "b" : "a", underlay: remote, macs: [] }],
    }],
    esp: [{ peer: dialer ? "b" : "a", local, remote, ...deriveEspKeys(secrets) }],
  };
}

/** Splits a plan into the `ip -batch` file and the `bridge` lines (run from checks.sh). */
export function kvmFiles(d: DesiredHost, underlayDev: string, underlayCidr: string) {
  const changes = planHost(d, empty);
  const ip = [`address add ${underlayCidr} dev ${underlayDev}`, `link set ${underlayDev} up`];
  const bridge: string[] = [];
  for (const c of changes) {
    if (c.tool === "ip") ip.push(c.args.join(" "));
    else if (c.tool === "bridge") bridge.push(c.args.join(" "));
    // nft: the VM has no nft; the guard is tested on this host's nft in plan_test/lab tests.
  }
  return { batch: ip.join("\n") + "\n", bridge };
}

Deno.test({
  name: "kvm-esp: the planner's encrypted plan carries traffic over ESP on a real ESP kernel",
  ignore: Deno.env.get("WEAVE_KVM_ESP") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wv-kvm-" });
    const a = kvmFiles(
      side("192.168.77.1", "192.168.77.2", "10.42.0.1", true),
      "veth-a",
      "192.168.77.1/24",
    );
    const b = kvmFiles(
      side("192.168.77.2", "192.168.77.1", "10.42.0.2", false),
      "veth-b",
      "192.168.77.2/24",
    );
    await Deno.writeTextFile(`${dir}/a.batch`, a.batch);
    await Deno.writeTextFile(`${dir}/b.batch`, b.batch);
    const mtu = vxlanEspMtu(1500, 4);
    await Deno.writeTextFile(
      `${dir}/checks.sh`,
      [
        "A=192.168.77.1 B=192.168.77.2",
        ...a.bridge.map((l) => `ns_a bridge ${l}`),
        ...b.bridge.map((l) => `ns_b bridge ${l}`),
        'check "overlay ping a->b" ns_a ping -c 3 -W 3 10.42.0.2',
        'check "overlay ping b->a" ns_b ping -c 3 -W 3 10.42.0.1',
        `check "overlay ping a->b at the overlay MTU (${mtu})" ns_a ping -c 2 -W 3 -s ${
          mtu - 28
        } 10.42.0.2`,
        'ab_a=$(esp_pkts "$NS_A" $A $B); ba_a=$(esp_pkts "$NS_A" $B $A)',
        'echo "ESP SA packets in a: out=$ab_a in=$ba_a"',
        'check "SA a->b encrypts" gt "$ab_a" 0',
        'check "SA b->a decrypts" gt "$ba_a" 0',
        'esp_b=$(wire_count "$NS_B" "$IF_B" esp); vx_b=$(wire_count "$NS_B" "$IF_B" vxlan)',
        'echo "wire into b: esp=$esp_b plain-vxlan=$vx_b"',
        'check "ESP on the wire" gt "$esp_b" 0',
        'check "no plaintext VXLAN on the wire" eq "$vx_b" 0',
        'check "no ESP errors" eq "$(xfrm_stat "$NS_B" XfrmInStateProtoError)" 0',
        'check "no plaintext refused by policy" eq "$(xfrm_stat "$NS_B" XfrmInTmplMismatch)" 0',
        'ip -n "$NS_A" xfrm state | head -20',
        "",
      ].join("\n"),
    );
    const o = await new Deno.Command("bash", {
      args: [
        RUN,
        "--quiet",
        "--timeout",
        "240",
        `${dir}/a.batch`,
        `${dir}/b.batch`,
        `${dir}/checks.sh`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    console.log(
      text.split("\n").filter((l) => /CHECK|ESP SA|wire into|PASS|FAIL|Error/.test(l)).join("\n"),
    );
    strictEqual(o.code, 0, text.slice(-3000));
    await Deno.remove(dir, { recursive: true });
  },
});
