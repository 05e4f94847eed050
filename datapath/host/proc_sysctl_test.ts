import { deepStrictEqual, match, strictEqual, throws } from "node:assert";
import { procSysPath, readProcSysctls, writeProcSysctls } from "./proc_sysctl.ts";

Deno.test("procSysPath maps dotted keys and refuses anything else", () => {
  strictEqual(
    procSysPath("net.ipv4.conf.wvb-net1.forwarding"),
    "/proc/sys/net/ipv4/conf/wvb-net1/forwarding",
  );
  strictEqual(
    procSysPath("net.bridge.bridge-nf-call-iptables"),
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
  );
  for (const bad of ["", "net", "net..x", "net/ipv4", "../etc/passwd", "net.ipv4 x", "NET.x"]) {
    throws(() => procSysPath(bad), RangeError);
  }
});

Deno.test("readProcSysctls reads what sysctl reads and leaves out absent keys", async () => {
  const key = "net.ipv4.ip_forward";
  const want = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
  const got = await readProcSysctls([key, "net.ipv4.conf.wvb-absent0.forwarding"]);
  deepStrictEqual(got, { [key]: want });
  // The same value the sysctl tool prints, where it is installed.
  const r = await new Deno.Command("sysctl", { args: ["-n", key], stdout: "piped" }).output()
    .catch(() => null);
  if (r?.success) strictEqual(new TextDecoder().decode(r.stdout).trim(), want);
});

Deno.test("writeProcSysctls refuses bad items and names a missing key like sysctl -w", async () => {
  for (const bad of ["net.ipv4.ip_forward", "net.ipv4.ip_forward=1;x", "x=1", "a.b=-1"]) {
    match((await writeProcSysctls([bad]))!, /^refusing sysctl item/);
  }
  const err = await writeProcSysctls(["net.ipv4.conf.wvb-absent0.forwarding=0"]);
  match(err!, /^sysctl -w: cannot stat \/proc\/sys\/net\/ipv4\/conf\/wvb-absent0\/forwarding/);
});
