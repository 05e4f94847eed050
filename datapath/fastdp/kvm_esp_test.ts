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
import { planHost, reqidFor, saArgs } from "../host/plan.ts";
import { parseXfrmStates } from "../host/observe.ts";
import { ESP_SA_HARD_LIFETIME_S } from "../host/xfrm_args.ts";
import { vxlanEspMtu } from "../mtu.ts";

/** The harness: beside the checkout (`../shared`), also from a worktree one level deeper. */
const RUN = Deno.env.get("WEAVE_KVM_ESP_RUN") ??
  ["../../../shared/tools/kvm-esp/run.sh", "../../../../shared/tools/kvm-esp/run.sh"]
    .map((p) => new URL(p, import.meta.url).pathname)
    .find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    }) ??
  new URL("../../../shared/tools/kvm-esp/run.sh", import.meta.url).pathname;

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
    // nft: the harness's VM has no nft; the second test below loads the guard in a VM with nft.
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

/**
 * The harness with `nft` and nf_tables in its VM: a copy of ../shared/tools/kvm-esp whose
 * initramfs also carries /usr/sbin/nft (and its libraries) and the nf_tables modules.
 * The shared tool is left as it is; the copy lives in a temporary folder.
 */
async function harnessWithNft(dir: string): Promise<string> {
  const src = RUN.slice(0, RUN.lastIndexOf("/"));
  const dst = `${dir}/kvm-esp-nft`;
  await Deno.mkdir(`${dst}/examples`, { recursive: true });
  for (const f of ["run.sh", "init", "helpers.sh", "modules.list"]) {
    await Deno.copyFile(`${src}/${f}`, `${dst}/${f}`);
  }
  const run = await Deno.readTextFile(`${dst}/run.sh`);
  const patched = run
    .replace("for b in ip tc bridge; do", "for b in ip tc bridge nft; do")
    .replace(
      "sha256sum $BB /usr/sbin/ip /usr/sbin/tc /usr/sbin/bridge;",
      "sha256sum $BB /usr/sbin/ip /usr/sbin/tc /usr/sbin/bridge /usr/sbin/nft;",
    );
  if (
    patched === run || !patched.includes("bridge nft; do") || !patched.includes("/usr/sbin/nft;")
  ) {
    throw new Error("kvm-esp run.sh changed: cannot add nft to its initramfs");
  }
  await Deno.writeTextFile(`${dst}/run.sh`, patched, { mode: 0o755 });
  // nf_tables needs libcrc32c, which needs a crc32c implementation; fib and ct for the
  // isolation table's `fib daddr type local` and `ct state`.
  await Deno.writeTextFile(
    `${dst}/modules.list`,
    "crc32c_generic\nnfnetlink\nnf_tables\nnft_fib_inet\nnft_ct\n",
    { append: true },
  );
  return `${dst}/run.sh`;
}

/** Arguments quoted for the VM's shell. */
function sh(args: string[]): string {
  return args.map((a) => `'${a}'`).join(" ");
}

/** A side's nft scripts, in plan order (one `nft -f` as the applier runs them). */
function nftScript(d: DesiredHost): string {
  return planHost(d, empty).filter((c) => c.tool === "nft").map((c) => c.args[0]).join("");
}

Deno.test({
  name:
    "kvm-esp: the VXLAN guard (meta ipsec missing drop) passes ESP, drops clear VXLAN; SA lifetimes",
  ignore: Deno.env.get("WEAVE_KVM_ESP") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wv-kvm-nft-" });
    const run = await harnessWithNft(dir);
    const da = side("192.168.77.1", "192.168.77.2", "10.42.0.1", true);
    const db = side("192.168.77.2", "192.168.77.1", "10.42.0.2", false);
    const a = kvmFiles(da, "veth-a", "192.168.77.1/24");
    const b = kvmFiles(db, "veth-b", "192.168.77.2/24");
    await Deno.writeTextFile(`${dir}/a.batch`, a.batch);
    await Deno.writeTextFile(`${dir}/b.batch`, b.batch);
    // The planner's renewal of a's SAs, as a live agent runs it past half their lifetime.
    const now = 2_000_000_000;
    const aged = {
      ...empty,
      observedAt: now,
      sas: planHost(da, empty).filter((c) => c.kind === "xfrm-state").map((c) => ({
        src: c.args[4],
        dst: c.args[6],
        spi: parseInt(c.args[10], 16),
        reqid: Number(c.args[12]),
        keyHex: null,
        addedAt: now - 220,
        hardSeconds: ESP_SA_HARD_LIFETIME_S,
      })),
    };
    const renew = planHost(da, aged).filter((c) => c.args[2] === "update");
    strictEqual(renew.length, 2);
    // A dead agent's SA: 3 s of life.
    const shortLived = saArgs(
      "192.168.77.1",
      "192.168.77.2",
      0x00abc123,
      reqidFor("b", "out"),
      new Uint8Array(36).fill(7),
      3,
    );
    await Deno.writeTextFile(
      `${dir}/checks.sh`,
      [
        "A=192.168.77.1 B=192.168.77.2",
        'not() { ! "$@"; }',
        'sa_has() { ip -n "$1" -s xfrm state | grep -q "$2"; }',
        "miss() { ns_b nft list chain inet weave_agent input | awk '/ipsec missing/ {for(i=1;i<=NF;i++) if ($i==\"packets\") print $(i+1)}'; }",
        ...a.bridge.map((l) => `ns_a bridge ${l}`),
        ...b.bridge.map((l) => `ns_b bridge ${l}`),
        `ns_a nft -f - <<'NFT'\n${nftScript(da)}NFT`,
        `ns_b nft -f - <<'NFT'\n${nftScript(db)}NFT`,
        'check "the plan\'s nft tables load in a real kernel" ns_b nft list table inet weave_agent',
        'check "overlay ping a->b through ESP, guard in place" ns_a ping -c 3 -W 3 10.42.0.2',
        'm0=$(miss); echo "GUARD ipsec-missing drops in b while ESP carries VXLAN: $m0"',
        'check "nothing dropped while VXLAN comes through ESP" eq "$m0" 0',
        `check "SAs carry the hard lifetime (${ESP_SA_HARD_LIFETIME_S} s)" sa_has a "hard ${ESP_SA_HARD_LIFETIME_S}(sec)"`,
        'echo "XFRMSTATE-BEGIN"; ip -n a -s xfrm state; echo "XFRMSTATE-END"',
        ...renew.map((c) => `ip -n a ${sh(c.args)}`),
        `check "renewed in place: hard ${renew[0].args.at(-1)} s" sa_has a "hard ${
          renew[0].args.at(-1)
        }(sec)"`,
        'check "overlay ping after the renewal (same key, same sequence)" ns_a ping -c 2 -W 3 10.42.0.2',
        "ip -n a xfrm policy delete src $A/32 dst $B/32 proto udp dport 4789 dir out",
        'vx0=$(wire_count "$NS_B" "$IF_B" vxlan)',
        'check "VXLAN in clear does not get through the guard" not ns_a ping -c 2 -W 2 10.42.0.2',
        'm1=$(miss); vx1=$(wire_count "$NS_B" "$IF_B" vxlan)',
        'echo "GUARD clear VXLAN on b\'s wire: $vx0 -> $vx1; dropped by meta ipsec missing: $m0 -> $m1"',
        'check "clear VXLAN reached b" gt "$vx1" "$vx0"',
        'check "b dropped it: meta ipsec missing" gt "$m1" "$m0"',
        "ns_b nft delete table inet weave_agent",
        'if ns_a ping -c 2 -W 2 10.42.0.2 >/dev/null 2>&1; then echo "GUARD without the guard, clear VXLAN IS delivered"; else echo "GUARD without the guard, clear VXLAN is not delivered either"; fi',
        `ip -n a ${sh(shortLived)}`,
        'check "a dead agent\'s SA exists at first" sa_has a "spi 0x00abc123"',
        "sleep 5",
        'check "and is gone after its 3 s hard lifetime" not sa_has a "spi 0x00abc123"',
        "",
      ].join("\n"),
    );
    const log = `${dir}/console.log`;
    const o = await new Deno.Command("bash", {
      args: [
        run,
        "--quiet",
        "--timeout",
        "300",
        "--log",
        log,
        ...["a", "b", "checks"].map((f) => `${dir}/${f}.${f === "checks" ? "sh" : "batch"}`),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    const console_ = await Deno.readTextFile(log).catch(() => "");
    console.log(
      [...text.split("\n"), ...console_.split("\n")].filter((l) => /CHECK|GUARD|PASS|FAIL/.test(l))
        .join("\n"),
    );
    strictEqual(o.code, 0, text.slice(-3000));
    // The real `ip -s xfrm state` output reads back: lifetime and add time.
    const dump = console_.slice(
      console_.indexOf("XFRMSTATE-BEGIN"),
      console_.indexOf("XFRMSTATE-END"),
    );
    const sas = parseXfrmStates(dump.replace(/\r/g, ""));
    strictEqual(sas.length, 2, dump);
    for (const sa of sas) {
      strictEqual(sa.hardSeconds, ESP_SA_HARD_LIFETIME_S, dump);
      strictEqual(typeof sa.addedAt, "number", dump);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
