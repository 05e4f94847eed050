import { deepStrictEqual, strictEqual, throws } from "node:assert";
import {
  addOffset,
  addressInSubnet,
  broadcastAddress,
  formatCidr,
  formatHostPort,
  formatIp,
  networkAddress,
  parseCidr,
  parseIp,
  parseIpv4,
  parseIpv6,
  splitHostPort,
  subnetsOverlap,
} from "./ip.ts";

Deno.test("IPv4 parsing: edges and refusals", () => {
  deepStrictEqual(parseIpv4("0.0.0.0"), { family: 4, value: 0n });
  deepStrictEqual(parseIpv4("255.255.255.255"), { family: 4, value: 0xffffffffn });
  deepStrictEqual(parseIpv4("192.0.2.1"), { family: 4, value: 0xc0000201n });
  for (
    const bad of [
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.-4",
      "1..3.4",
      "",
      " 1.2.3.4",
      "1.2.3.4 ",
      "0x1.2.3.4",
    ]
  ) {
    strictEqual(parseIpv4(bad), null, bad);
  }
});

Deno.test("IPv6 parsing: compression, embedded IPv4, refusals", () => {
  strictEqual(parseIpv6("::")?.value, 0n);
  strictEqual(parseIpv6("::1")?.value, 1n);
  strictEqual(parseIpv6("1::")?.value, 1n << 112n);
  strictEqual(parseIpv6("2001:db8::1")?.value, 0x20010db8000000000000000000000001n);
  strictEqual(parseIpv6("::ffff:192.0.2.1")?.value, 0xffffc0000201n);
  strictEqual(parseIpv6("64:ff9b::192.0.2.1")?.value, 0x0064ff9b0000000000000000c0000201n);
  strictEqual(parseIpv6("1:2:3:4:5:6:192.0.2.1")?.value, 0x000100020003000400050006c0000201n);
  strictEqual(
    parseIpv6("FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff")?.value,
    (1n << 128n) - 1n,
  );
  for (
    const bad of [
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7::8", // "::" must stand for at least one group
      "fe80::1%eth0",
      "::ffff:256.0.0.1",
      "::1.2.3.4:5",
      ":1::",
      "g::",
      "1.2.3.4",
    ]
  ) {
    strictEqual(parseIpv6(bad), null, bad);
  }
});

Deno.test("canonical formatting (RFC 5952)", () => {
  const canon = (s: string) => formatIp(parseIp(s)!);
  strictEqual(canon("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  strictEqual(canon("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"); // first of equal runs
  strictEqual(canon("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1"); // longest run
  strictEqual(canon("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); // lone zero stays
  strictEqual(canon("0:0:0:0:0:0:0:0"), "::");
  strictEqual(canon("0:0:0:0:0:0:0:1"), "::1");
  strictEqual(canon("1:0:0:0:0:0:0:0"), "1::");
  strictEqual(canon("::ffff:c000:201"), "::ffff:192.0.2.1");
  strictEqual(canon("192.0.2.1"), "192.0.2.1");
});

Deno.test("formatting agrees with Python's ipaddress for random IPv6 addresses", async () => {
  const values: bigint[] = [];
  for (let i = 0; i < 200; i++) {
    let v = 0n;
    // Zero groups often, so compression paths are exercised.
    for (let g = 0; g < 8; g++) {
      v = (v << 16n) | (Math.random() < 0.5 ? 0n : BigInt(Math.floor(Math.random() * 65536)));
    }
    values.push(v);
  }
  const script = "import ipaddress,sys\nfor l in sys.stdin: print(ipaddress.IPv6Address(int(l)))";
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(values.map(String).join("\n") + "\n"));
  await w.close();
  const expected = new TextDecoder().decode((await child.output()).stdout).trim().split("\n");
  deepStrictEqual(values.map((value) => formatIp({ family: 6, value })), expected);
  // And each canonical form parses back to the same value.
  deepStrictEqual(expected.map((s) => parseIp(s)!.value), values);
});

Deno.test("CIDR parsing and canonical form", () => {
  deepStrictEqual(parseCidr("10.32.1.0/24"), {
    address: { family: 4, value: 0x0a200100n },
    prefixLength: 24,
  });
  strictEqual(formatCidr("10.32.1.77/24"), "10.32.1.0/24");
  strictEqual(formatCidr("2001:DB8::1/32"), "2001:db8::/32");
  strictEqual(formatCidr("0.0.0.0/0"), "0.0.0.0/0");
  for (const bad of ["10.32.1.0", "10.32.1.0/33", "::/129", "10.32.1.0/024", "10.32.1.0/", "/24"]) {
    strictEqual(parseCidr(bad), null, bad);
  }
});

Deno.test("network and broadcast addresses", () => {
  strictEqual(formatIp(networkAddress("10.32.1.77/24")), "10.32.1.0");
  strictEqual(formatIp(broadcastAddress("10.32.1.77/24")), "10.32.1.255");
  strictEqual(formatIp(broadcastAddress("10.32.1.0/30")), "10.32.1.3");
  strictEqual(formatIp(broadcastAddress("10.0.0.1/32")), "10.0.0.1");
  strictEqual(formatIp(broadcastAddress("0.0.0.0/0")), "255.255.255.255");
  strictEqual(formatIp(broadcastAddress("2001:db8::/64")), "2001:db8::ffff:ffff:ffff:ffff");
  strictEqual(formatIp(networkAddress("2001:db8::1/128")), "2001:db8::1");
});

Deno.test("address in subnet, across families too", () => {
  strictEqual(addressInSubnet("10.32.1.255", "10.32.1.0/24"), true);
  strictEqual(addressInSubnet("10.32.2.0", "10.32.1.0/24"), false);
  strictEqual(addressInSubnet("10.32.1.1", "0.0.0.0/0"), true);
  strictEqual(addressInSubnet("::ffff:10.32.1.1", "10.32.1.0/24"), false);
  strictEqual(addressInSubnet("2001:db8::ffff", "2001:db8::/112"), true);
  strictEqual(addressInSubnet("2001:db8::1:0", "2001:db8::/112"), false);
  throws(() => addressInSubnet("nope", "10.0.0.0/8"), /not an IP address: "nope"/);
  throws(() => addressInSubnet("10.0.0.1", "10.0.0.0"), /not a subnet/);
});

Deno.test("subnets overlap when one contains the other", () => {
  strictEqual(subnetsOverlap("10.32.0.0/16", "10.32.1.0/24"), true);
  strictEqual(subnetsOverlap("10.32.1.0/24", "10.32.0.0/16"), true);
  strictEqual(subnetsOverlap("10.32.1.0/24", "10.32.1.0/24"), true);
  strictEqual(subnetsOverlap("10.32.1.0/24", "10.32.2.0/24"), false);
  strictEqual(subnetsOverlap("10.32.1.0/25", "10.32.1.128/25"), false);
  strictEqual(subnetsOverlap("10.0.0.0/8", "::/0"), false);
  strictEqual(subnetsOverlap("fd00::/8", "fd00:32::/64"), true);
});

Deno.test("addOffset stays inside the subnet", () => {
  strictEqual(formatIp(addOffset("10.32.1.0/24", 1)!), "10.32.1.1");
  strictEqual(formatIp(addOffset("10.32.1.0/24", 255)!), "10.32.1.255");
  strictEqual(addOffset("10.32.1.0/24", 256), null);
  strictEqual(addOffset("10.32.1.0/24", -1), null);
  strictEqual(formatIp(addOffset("10.32.1.9/24", 2)!), "10.32.1.2"); // from the network address
  strictEqual(formatIp(addOffset("fd00::/64", 0xffffn)!), "fd00::ffff");
  strictEqual(formatIp(addOffset("fd00::/64", (1n << 64n) - 1n)!), "fd00::ffff:ffff:ffff:ffff");
  strictEqual(addOffset("fd00::/64", 1n << 64n), null);
});

Deno.test("host:port splitting", () => {
  deepStrictEqual(splitHostPort("192.0.2.1"), {
    host: "192.0.2.1",
    port: undefined,
    bracketed: false,
  });
  deepStrictEqual(splitHostPort("192.0.2.1:7000"), {
    host: "192.0.2.1",
    port: 7000,
    bracketed: false,
  });
  deepStrictEqual(splitHostPort("2001:db8::1"), {
    host: "2001:db8::1",
    port: undefined,
    bracketed: false,
  });
  deepStrictEqual(splitHostPort("[2001:db8::1]:1"), {
    host: "2001:db8::1",
    port: 1,
    bracketed: true,
  });
  deepStrictEqual(splitHostPort("[::1]"), { host: "::1", port: undefined, bracketed: true });
  for (
    const bad of [
      "1.2.3.4:0",
      "1.2.3.4:65536",
      "1.2.3.4:",
      "1.2.3.4:07",
      "[::1",
      "[::1]x",
      "[::1]:",
    ]
  ) {
    strictEqual(splitHostPort(bad), null, bad);
  }
  strictEqual(formatHostPort("2001:db8::1", 6783), "[2001:db8::1]:6783");
  strictEqual(formatHostPort("192.0.2.1", 6783), "192.0.2.1:6783");
});
