import { deepStrictEqual, strictEqual } from "node:assert";
import { assignVnis, deriveMemberAddress, hashVni, MAX_VNI, MIN_DERIVED_VNI } from "./derive.ts";
import { formatIp, parseCidr } from "./ip.ts";
import { parseConfig } from "./parse.ts";

// Expected values from Python: 4096 + int.from_bytes(sha256(name)[:4], "big") % 16773120.
Deno.test("hashVni matches an independent SHA-256 computation", () => {
  strictEqual(hashVni("sensors"), 3943169);
  strictEqual(hashVni("control"), 13522570);
  strictEqual(hashVni("lab"), 1812179);
  // n892 and n5289 collide: found by brute force in Python.
  strictEqual(hashVni("n892"), 1928307);
  strictEqual(hashVni("n5289"), 1928307);
});

Deno.test("hashVni also agrees with the sha256sum CLI", async () => {
  const out = await new Deno.Command("sha256sum", { stdin: "piped", stdout: "piped" }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode("cameras"));
  await w.close();
  const hex = new TextDecoder().decode((await out.output()).stdout).slice(0, 8);
  strictEqual(hashVni("cameras"), MIN_DERIVED_VNI + (parseInt(hex, 16) % (MAX_VNI - 4095)));
});

Deno.test("derived VNIs do not depend on the order of networks", () => {
  const a = assignVnis([{ name: "n892", vni: null }, { name: "n5289", vni: null }]);
  const b = assignVnis([{ name: "n5289", vni: null }, { name: "n892", vni: null }]);
  // Sorted by name, "n5289" < "n892": it keeps the hash, "n892" probes to the next value.
  deepStrictEqual(a, [1928308, 1928307]);
  deepStrictEqual(b, [1928307, 1928308]);
});

Deno.test("a derived VNI probes past an explicit one", () => {
  deepStrictEqual(
    assignVnis([{ name: "sensors", vni: null }, { name: "other", vni: 3943169 }]),
    [3943170, 3943169],
  );
  // Explicit VNIs are never moved, even below 4096.
  deepStrictEqual(assignVnis([{ name: "x", vni: 7 }]), [7]);
});

Deno.test("probing wraps from 16777215 back to 4096", () => {
  strictEqual(hashVni("w663510"), 16777204); // found by brute force in Python
  const explicit = [];
  for (let v = 16777204; v <= MAX_VNI; v++) explicit.push({ name: `x${v}`, vni: v });
  explicit.push({ name: "y", vni: MIN_DERIVED_VNI });
  const vnis = assignVnis([...explicit, { name: "w663510", vni: null }]);
  strictEqual(vnis.at(-1), MIN_DERIVED_VNI + 1);
});

Deno.test("VNIs from a config are the same whatever the order of networks in the file", () => {
  const head = `version: 1
peers:
  - {name: a, address: 192.0.2.1}
networks:
`;
  const nets = [
    "  - {name: n892, subnet: 10.32.1.0/24}\n",
    "  - {name: n5289, subnet: 10.32.2.0/24}\n",
    "  - {name: sensors, subnet: 10.32.3.0/24}\n",
    "  - {name: pinned, subnet: 10.32.4.0/24, vni: 1928307}\n",
  ];
  const vnisOf = (order: number[]) => {
    const r = parseConfig(head + order.map((i) => nets[i]).join(""), "w.yaml", { env: {} });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    return Object.fromEntries(r.config.networks.map((n) => [n.name, [n.vni, n.vniDerived]]));
  };
  const expected = {
    n892: [1928309, true],
    n5289: [1928308, true],
    sensors: [3943169, true],
    pinned: [1928307, false],
  };
  deepStrictEqual(vnisOf([0, 1, 2, 3]), expected);
  deepStrictEqual(vnisOf([3, 2, 1, 0]), expected);
  deepStrictEqual(vnisOf([2, 0, 3, 1]), expected);
});

Deno.test("member addresses: network address + position + 1, stable when peers are appended", () => {
  const subnet = parseCidr("10.32.1.0/24")!;
  const at = (i: number) => {
    const d = deriveMemberAddress(subnet, i);
    return "problem" in d ? d.problem : formatIp(d.address);
  };
  deepStrictEqual([at(0), at(1), at(252), at(253), at(254), at(255)], [
    "10.32.1.1",
    "10.32.1.2",
    "10.32.1.253",
    "10.32.1.254",
    "broadcast",
    "outside",
  ]);
  const v6 = parseCidr("fd00:32::/126")!;
  const at6 = (i: number) => {
    const d = deriveMemberAddress(v6, i);
    return "problem" in d ? d.problem : formatIp(d.address);
  };
  // IPv6 has no broadcast address: the last one is usable.
  deepStrictEqual([at6(0), at6(2), at6(3)], ["fd00:32::1", "fd00:32::3", "outside"]);
});

Deno.test("members in a config: derived by peer position, explicit kept, ordered as peers", () => {
  const yaml = `version: 1
peers:
  - {name: a, address: 192.0.2.1}
  - {name: b, address: 192.0.2.2}
  - {name: c, address: 192.0.2.3}
networks:
  - name: all
    subnet: 10.32.1.0/24
  - name: some
    subnet: fd00:32:2::/64
    members:
      c:
      a: fd00:32:2::a
`;
  const r = parseConfig(yaml, "w.yaml", { env: {} });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  deepStrictEqual(r.config.networks[0].members, [
    { peer: "a", address: "10.32.1.1", derived: true },
    { peer: "b", address: "10.32.1.2", derived: true },
    { peer: "c", address: "10.32.1.3", derived: true },
  ]);
  deepStrictEqual(r.config.networks[1].members, [
    { peer: "a", address: "fd00:32:2::a", derived: false },
    { peer: "c", address: "fd00:32:2::3", derived: true },
  ]);
  strictEqual(r.config.networks[1].family, 6);
  strictEqual(r.config.networks[1].prefixLength, 64);
});
