import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { parseConfig } from "./parse.ts";

const ENV = { WEAVE_PASSWORD: "correct horse battery staple" };

/** Every diagnostic of the given severity, formatted: message, line, column and hint at once. */
function diagnose(yaml: string, severity: "error" | "warning" = "error"): string[] {
  const r = parseConfig(yaml, "weave.yaml", { env: ENV });
  const found = r.diagnostics.filter((d) => d.severity === severity).map(formatDiagnostic);
  if (severity === "error") strictEqual(r.ok, found.length === 0, "ok iff no errors");
  return found;
}

const VALID = `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - name: edge-1
    address: 192.0.2.10
  - name: edge-2
    address: 192.0.2.11
networks:
  - name: sensors
    subnet: 10.32.1.0/24
`;

Deno.test("a valid config has no diagnostics and defaults filled in", () => {
  const r = parseConfig(VALID, "weave.yaml", { env: ENV });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(r.diagnostics, []);
  strictEqual(r.config.port, 6783);
  strictEqual(r.config.vxlanPort, 6784);
  strictEqual(r.config.datapath, "auto");
  strictEqual(r.config.underlayMtu, 1500);
  strictEqual(r.config.metrics, null);
  deepStrictEqual(r.config.password, { kind: "env", name: "WEAVE_PASSWORD" });
  strictEqual(r.config.path, `${Deno.cwd()}/weave.yaml`);
  deepStrictEqual(r.config.peers[1], {
    name: "edge-2",
    address: "192.0.2.11",
    family: 4,
    port: 6783,
    index: 1,
    endpoint: { kind: "ip", ip: "192.0.2.11", family: 4, port: 6783 },
    key: null,
  });
});

Deno.test("YAML syntax errors carry the parser's position and the offending line", () => {
  deepStrictEqual(
    diagnose(`version: 1
peers: [edge-1, edge-2
networks:
  - name: sensors
`),
    [
      `weave.yaml:3:1: error: invalid YAML near "networks:": Flow sequence in block collection ` +
      `must be sufficiently indented and end with a ]\n` +
      `  hint: check the indentation (spaces only) and that every [ or { is closed`,
    ],
  );
});

Deno.test("tabs used for indentation are a syntax error", () => {
  deepStrictEqual(
    diagnose(`version: 1
peers:
\t- name: edge-1
`),
    [
      `weave.yaml:3:1: error: invalid YAML near "- name: edge-1": Tabs are not allowed as ` +
      `indentation\n  hint: indent with spaces; YAML does not allow tabs for indentation`,
    ],
  );
});

Deno.test("unknown top-level key, with did-you-mean", () => {
  deepStrictEqual(diagnose(VALID.replace("peers:", "prot: 7000\npeers:")), [
    `weave.yaml:3:1: error: unknown key "prot" at the top level; did you mean "port"?\n` +
    `  hint: allowed here: version, password, port, vxlan_port, datapath, underlay_mtu, ` +
    `metrics, peers, networks, key_file, rekey_after, reject_after, nat_keepalive, workloads, ` +
    `routes, policies, policyFiles`,
  ]);
});

Deno.test("unknown key without a close match gets no suggestion", () => {
  deepStrictEqual(diagnose(VALID + "colour: blue\n"), [
    `weave.yaml:11:1: error: unknown key "colour" at the top level\n` +
    `  hint: allowed here: version, password, port, vxlan_port, datapath, underlay_mtu, ` +
    `metrics, peers, networks, key_file, rekey_after, reject_after, nat_keepalive, workloads, ` +
    `routes, policies, policyFiles`,
  ]);
});

Deno.test("unknown key in a peer; the missing key it misspells is not reported twice", () => {
  deepStrictEqual(
    diagnose(`version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - name: edge-1
    adress: 192.0.2.10
`),
    [
      `weave.yaml:5:5: error: unknown key "adress" in peers[0]; did you mean "address"?\n` +
      `  hint: allowed here: name, address, key, relay, relays`,
    ],
  );
});

Deno.test("unknown key in a network", () => {
  deepStrictEqual(diagnose(VALID + "    vin: 5\n"), [
    `weave.yaml:11:5: error: unknown key "vin" in networks[0]; did you mean "vni"?\n` +
    `  hint: allowed here: name, subnet, vni, members, labels`,
  ]);
});

Deno.test("unknown key under password", () => {
  deepStrictEqual(diagnose(VALID.replace("{env: WEAVE_PASSWORD}", "{fiel: secret.txt}")), [
    `weave.yaml:2:12: error: unknown key "fiel" under password; did you mean "file"?\n` +
    `  hint: allowed here: file, env, previous`,
  ]);
});

Deno.test("a key given twice", () => {
  deepStrictEqual(diagnose(VALID + "port: 7000\nport: 7001\n"), [
    `weave.yaml:12:1: error: key "port" appears twice at the top level (first on line 11)\n` +
    `  hint: keep one of them`,
  ]);
});

Deno.test("wrong type: port is text", () => {
  deepStrictEqual(diagnose(VALID + "port: abc\n"), [
    `weave.yaml:11:7: error: port must be a whole number from 1 to 65535, got "abc"\n` +
    `  hint: e.g. port: 6783`,
  ]);
});

Deno.test("wrong type: peers is not a list", () => {
  deepStrictEqual(
    diagnose(`version: 1
password: {env: WEAVE_PASSWORD}
peers: edge-1
`),
    [
      `weave.yaml:3:8: error: peers must be a list, got "edge-1"\n` +
      `  hint: e.g. peers: [{name: edge-1, address: 192.0.2.10}]`,
    ],
  );
});

Deno.test("wrong type: peers is a map", () => {
  deepStrictEqual(
    diagnose(`version: 1
password: {env: WEAVE_PASSWORD}
peers:
  edge-1: 192.0.2.10
`),
    [
      `weave.yaml:4:3: error: peers must be a list, got a map\n` +
      `  hint: e.g. peers: [{name: edge-1, address: 192.0.2.10}]`,
    ],
  );
});

Deno.test("an empty file and a non-map document", () => {
  deepStrictEqual(diagnose(""), [
    `weave.yaml:1:1: error: the config is empty\n` +
    `  hint: start with "version: 1", then peers and networks`,
  ]);
  deepStrictEqual(diagnose("- edge-1\n"), [
    `weave.yaml:1:1: error: the config must be a map, got a list\n` +
    `  hint: e.g. "version: 1" on the first line, then peers: and networks:`,
  ]);
});

Deno.test("version missing", () => {
  deepStrictEqual(diagnose(VALID.replace("version: 1\n", "")), [
    `weave.yaml:1:1: error: version is missing\n  hint: add "version: 1" as the first line`,
  ]);
});

Deno.test("version not 1", () => {
  deepStrictEqual(diagnose(VALID.replace("version: 1", "version: 2")), [
    `weave.yaml:1:10: error: version must be 1, got 2\n` +
    `  hint: this agent reads weave.yaml version 1; write "version: 1"`,
  ]);
  deepStrictEqual(diagnose(VALID.replace("version: 1", `version: "1"`)), [
    `weave.yaml:1:10: error: version must be 1, got "1"\n` +
    `  hint: this agent reads weave.yaml version 1; write "version: 1"`,
  ]);
});

const LITERAL_HINT = `  hint: keep it in a file only root can read and write ` +
  `"password: {file: secret.txt}", or write "password: {env: WEAVE_PASSWORD}"`;

Deno.test("a literal password is refused, and not repeated in the message", () => {
  const found = diagnose(VALID.replace("{env: WEAVE_PASSWORD}", "hunter2"));
  deepStrictEqual(found, [
    `weave.yaml:2:11: error: password is written into the config; weave.yaml is meant to be ` +
    `kept in Git, where everyone who can read the repository would learn the password\n` +
    LITERAL_HINT,
  ]);
  strictEqual(found[0].includes("hunter2"), false);
});

Deno.test("password: {value: ...} is refused too", () => {
  const found = diagnose(VALID.replace("{env: WEAVE_PASSWORD}", "\n  value: hunter2"));
  deepStrictEqual(found, [
    `weave.yaml:3:3: error: password: value: puts the password into the config; weave.yaml is ` +
    `meant to be kept in Git, where everyone who can read the repository would learn the ` +
    `password\n` + LITERAL_HINT,
  ]);
  strictEqual(found[0].includes("hunter2"), false);
});

Deno.test("password with both file: and env:, or neither", () => {
  deepStrictEqual(
    diagnose(VALID.replace("{env: WEAVE_PASSWORD}", "\n  env: WEAVE_PASSWORD\n  file: s.txt")),
    [
      `weave.yaml:4:3: error: password takes either file: or env:, not both\n` +
      `  hint: keep the one the agent should use`,
    ],
  );
  deepStrictEqual(diagnose(VALID.replace("{env: WEAVE_PASSWORD}", "{}")), [
    `weave.yaml:2:11: error: password needs file: or env:\n` +
    `  hint: e.g. "password: {file: secret.txt}" or "password: {env: WEAVE_PASSWORD}"`,
  ]);
});

Deno.test("password env: unset or empty is an error at load", () => {
  const yaml = VALID.replace("WEAVE_PASSWORD}", "WEAVE_UNSET_FOR_TEST}");
  deepStrictEqual(diagnose(yaml), [
    `weave.yaml:2:17: error: environment variable WEAVE_UNSET_FOR_TEST (password: env:) is not ` +
    `set\n  hint: start the agent with WEAVE_UNSET_FOR_TEST set, e.g. from a systemd ` +
    `EnvironmentFile= only root can read`,
  ]);
  const r = parseConfig(VALID, "weave.yaml", { env: { WEAVE_PASSWORD: "" } });
  deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
    `weave.yaml:2:17: error: environment variable WEAVE_PASSWORD (password: env:) is empty\n` +
    `  hint: set WEAVE_PASSWORD to the fleet's shared password`,
  ]);
});

Deno.test("password env: with an invalid variable name", () => {
  deepStrictEqual(diagnose(VALID.replace("WEAVE_PASSWORD}", "WEAVE-PASSWORD}")), [
    `weave.yaml:2:17: error: "WEAVE-PASSWORD" is not a valid environment variable name\n` +
    `  hint: use letters, digits and _, not starting with a digit, e.g. WEAVE_PASSWORD`,
  ]);
});

Deno.test("no password is a warning, not an error", () => {
  const yaml = VALID.replace("password: {env: WEAVE_PASSWORD}\n", "");
  deepStrictEqual(diagnose(yaml), []);
  deepStrictEqual(diagnose(yaml, "warning"), [
    `weave.yaml:1:1: warning: no password: traffic between peers is not encrypted and peers ` +
    `are not authenticated\n  hint: add "password: {file: secret.txt}" (a file only root can ` +
    `read) to encrypt`,
  ]);
  const r = parseConfig(yaml, "weave.yaml", { env: {} });
  strictEqual(r.ok && r.config.password, null);
});

Deno.test("invalid peer name", () => {
  deepStrictEqual(diagnose(VALID.replace("name: edge-1", "name: edge_1!")), [
    `weave.yaml:4:11: error: peer name "edge_1!" is not a valid hostname\n` +
    `  hint: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit ` +
    `(like a hostname)`,
  ]);
});

Deno.test("peer name longer than a DNS label", () => {
  const long = "e".repeat(64);
  deepStrictEqual(diagnose(VALID.replace("name: edge-1", `name: ${long}`)), [
    `weave.yaml:4:11: error: peer name "${long}" is 64 characters; at most 63 are allowed\n` +
    `  hint: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit ` +
    `(like a hostname)`,
  ]);
});

Deno.test("network name too long for an interface name", () => {
  deepStrictEqual(diagnose(VALID.replace("name: sensors", "name: sensors-north")), [
    `weave.yaml:9:11: error: network name "sensors-north" is 13 characters, at most 11 are ` +
    `allowed: it becomes part of interface names like "wvb-sensors-north" and Linux allows 15 ` +
    `characters\n  hint: use 1 to 11 lower-case letters, digits or "-", starting with a letter`,
  ]);
});

Deno.test("network name with characters interface names should not hold", () => {
  deepStrictEqual(diagnose(VALID.replace("name: sensors", "name: Sensors")), [
    `weave.yaml:9:11: error: network name "Sensors" may only hold lower-case letters, digits ` +
    `and "-", starting with a letter: it becomes part of interface names like "wvb-Sensors" ` +
    `and Linux allows 15 characters\n` +
    `  hint: use 1 to 11 lower-case letters, digits or "-", starting with a letter`,
  ]);
});

Deno.test("duplicate peer names", () => {
  deepStrictEqual(diagnose(VALID.replace("name: edge-2", "name: edge-1")), [
    `weave.yaml:6:11: error: duplicate peer name "edge-1" (first on line 4)\n` +
    `  hint: every peer needs its own name`,
  ]);
});

Deno.test("duplicate network names", () => {
  deepStrictEqual(diagnose(VALID + "  - name: sensors\n    subnet: 10.32.2.0/24\n"), [
    `weave.yaml:11:11: error: duplicate network name "sensors" (first on line 9)\n` +
    `  hint: every network needs its own name`,
  ]);
});

Deno.test("duplicate VNIs", () => {
  deepStrictEqual(
    diagnose(
      VALID + "    vni: 101\n  - name: cameras\n    subnet: 10.32.2.0/24\n    vni: 101\n",
    ),
    [
      `weave.yaml:14:10: error: duplicate vni 101: network "sensors" (line 11) has it too\n` +
      `  hint: give each network its own vni, or remove vni: to derive one`,
    ],
  );
});

Deno.test("duplicate peer addresses (same ip:port, default port spelled out)", () => {
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "192.0.2.10:6783")), [
    `weave.yaml:7:14: error: duplicate peer address 192.0.2.10:6783: "edge-1" (line 5) has it ` +
    `too\n  hint: two peers on one box need different ports, e.g. 192.0.2.10:6790`,
  ]);
  // Same IP, different ports: two agents on one box is fine.
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "192.0.2.10:6790")), []);
});

Deno.test("duplicate IPv6 peer addresses are compared canonically", () => {
  const yaml = VALID.replace("192.0.2.10", "2001:db8::a").replace(
    "192.0.2.11",
    `"[2001:DB8:0:0::A]:6783"`,
  );
  deepStrictEqual(diagnose(yaml), [
    `weave.yaml:7:14: error: duplicate peer address [2001:db8::a]:6783: "edge-1" (line 5) has ` +
    `it too\n  hint: two peers on one box need different ports, e.g. 192.0.2.10:6790`,
  ]);
});

Deno.test("a peer address that is neither an IP nor a DNS name", () => {
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "edge_2.example.com")), [
    `weave.yaml:7:14: error: "edge_2.example.com" is not an IP address or a DNS name: label ` +
    `"edge_2" may only hold letters, digits and inner "-", at most 63 characters\n` +
    `  hint: write an IPv4 or IPv6 address, or a DNS name such as edge-7.example.net, ` +
    `optionally with :port`,
  ]);
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "192.0.2.300")), [
    `weave.yaml:7:14: error: "192.0.2.300" is not a valid IP address\n` +
    `  hint: write an IPv4 or IPv6 address, or a DNS name such as edge-7.example.net, ` +
    `optionally with :port`,
  ]);
});

Deno.test("duplicate member addresses in a network", () => {
  deepStrictEqual(
    diagnose(VALID + "    members:\n      edge-1: 10.32.1.5\n      edge-2: 10.32.1.5\n"),
    [
      `weave.yaml:13:15: error: address 10.32.1.5 is given to both "edge-1" and "edge-2" in ` +
      `network "sensors"\n  hint: every member needs its own address`,
    ],
  );
});

Deno.test("overlapping subnets", () => {
  deepStrictEqual(diagnose(VALID + "  - name: all\n    subnet: 10.32.0.0/16\n"), [
    `weave.yaml:12:13: error: subnet 10.32.0.0/16 overlaps 10.32.1.0/24 of network "sensors" ` +
    `(line 10)\n  hint: give each network a subnet of its own, e.g. 10.32.1.0/24 and ` +
    `10.32.2.0/24`,
  ]);
});

Deno.test("subnet with host bits set, and one too small", () => {
  deepStrictEqual(diagnose(VALID.replace("10.32.1.0/24", "10.32.1.5/24")), [
    `weave.yaml:10:13: error: subnet 10.32.1.5/24 has host bits set; did you mean ` +
    `10.32.1.0/24?\n  hint: write the network address: 10.32.1.0/24`,
  ]);
  deepStrictEqual(diagnose(VALID.replace("10.32.1.0/24", "10.32.1.0/31")), [
    `weave.yaml:10:13: error: subnet 10.32.1.0/31 is too small to hold members\n` +
    `  hint: use a prefix of /30 or shorter, e.g. /24`,
  ]);
  deepStrictEqual(diagnose(VALID.replace("10.32.1.0/24", "10.32.1.0")), [
    `weave.yaml:10:13: error: "10.32.1.0" is not a subnet\n` +
    `  hint: write address/prefix-length, e.g. 10.32.1.0/24`,
  ]);
});

Deno.test("member address outside its subnet", () => {
  deepStrictEqual(diagnose(VALID + "    members:\n      edge-1: 10.32.2.1\n"), [
    `weave.yaml:12:15: error: address 10.32.2.1 of "edge-1" is outside subnet 10.32.1.0/24 of ` +
    `network "sensors"\n  hint: use an address inside 10.32.1.0/24, or leave it empty to ` +
    `derive one`,
  ]);
});

Deno.test("member address on the network or broadcast address", () => {
  deepStrictEqual(
    diagnose(VALID + "    members:\n      edge-1: 10.32.1.0\n      edge-2: 10.32.1.255\n"),
    [
      `weave.yaml:12:15: error: address 10.32.1.0 of "edge-1" is the network address of ` +
      `10.32.1.0/24\n  hint: use a host address, e.g. 10.32.1.1`,
      `weave.yaml:13:15: error: address 10.32.1.255 of "edge-2" is the broadcast address of ` +
      `10.32.1.0/24\n  hint: use a host address, e.g. 10.32.1.1`,
    ],
  );
});

Deno.test("member address with a prefix length", () => {
  deepStrictEqual(diagnose(VALID + "    members:\n      edge-1: 10.32.1.1/24\n"), [
    `weave.yaml:12:15: error: "10.32.1.1/24" is not an IP address\n` +
    `  hint: write the address alone; the prefix length comes from the subnet`,
  ]);
});

Deno.test("unknown peers in members, with did-you-mean", () => {
  deepStrictEqual(diagnose(VALID + "    members:\n      edge2:\n      gateway: 10.32.1.9\n"), [
    `weave.yaml:12:7: error: unknown peer "edge2" in members of network "sensors"; did you ` +
    `mean "edge-2"?\n  hint: members must be names listed under peers: (edge-1, edge-2)`,
    `weave.yaml:13:7: error: unknown peer "gateway" in members of network "sensors"\n` +
    `  hint: members must be names listed under peers: (edge-1, edge-2)`,
  ]);
});

Deno.test("members that is empty or not a map", () => {
  deepStrictEqual(diagnose(VALID + "    members:\n"), [
    `weave.yaml:11:5: error: networks[0].members is empty\n` +
    `  hint: list peer names under it, or remove members: to include every peer`,
  ]);
  deepStrictEqual(diagnose(VALID + "    members: [edge-1]\n"), [
    `weave.yaml:11:14: error: networks[0].members must be a map of peer name to address, got ` +
    `a list\n  hint: e.g. "members: {edge-1: 10.32.1.1, edge-2: }" (an empty address is derived)`,
  ]);
});

Deno.test("ports out of range", () => {
  deepStrictEqual(diagnose(VALID + "port: 70000\nvxlan_port: 0\n"), [
    `weave.yaml:11:7: error: port must be a whole number from 1 to 65535, got 70000\n` +
    `  hint: e.g. port: 6783`,
    `weave.yaml:12:13: error: vxlan_port must be a whole number from 1 to 65535, got 0\n` +
    `  hint: e.g. vxlan_port: 6784`,
  ]);
});

Deno.test("a peer's own port out of range", () => {
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "192.0.2.11:65536")), [
    `weave.yaml:7:14: error: "192.0.2.11:65536" is not an IP address or ip:port\n` +
    `  hint: give an IPv4 or IPv6 address of the underlay or a DNS name, ` +
    `optionally with :port ([IPv6]:port)`,
  ]);
});

Deno.test("vxlan_port equal to port", () => {
  deepStrictEqual(diagnose(VALID + "port: 7000\nvxlan_port: 7000\n"), [
    `weave.yaml:12:13: error: vxlan_port 7000 is the same as port\n` +
    `  hint: VXLAN needs its own UDP port: remove vxlan_port to use port + 1, or pick another`,
  ]);
});

Deno.test("port 65535 without vxlan_port, and a peer port equal to vxlan_port", () => {
  deepStrictEqual(diagnose(VALID + "port: 65535\n"), [
    `weave.yaml:11:7: error: port 65535 leaves no room for the default vxlan_port (port + 1)\n` +
    `  hint: set vxlan_port: explicitly, or use a lower port`,
  ]);
  deepStrictEqual(diagnose(VALID.replace("192.0.2.11", "192.0.2.11:6784")), [
    `weave.yaml:7:14: error: port 6784 of peer "edge-2" is also the vxlan_port\n` +
    `  hint: the control/sleeve port and VXLAN need different UDP ports`,
  ]);
});

Deno.test("vni out of range", () => {
  deepStrictEqual(diagnose(VALID + "    vni: 16777216\n"), [
    `weave.yaml:11:10: error: networks[0].vni must be a whole number from 1 to 16777215, got ` +
    `16777216\n  hint: e.g. vni: 101`,
  ]);
  deepStrictEqual(diagnose(VALID + "    vni: 0\n"), [
    `weave.yaml:11:10: error: networks[0].vni must be a whole number from 1 to 16777215, got ` +
    `0\n  hint: e.g. vni: 101`,
  ]);
});

Deno.test("underlay_mtu out of range", () => {
  deepStrictEqual(diagnose(VALID + "underlay_mtu: 100\n"), [
    `weave.yaml:11:15: error: underlay_mtu must be a whole number from 576 to 9216, got 100\n` +
    `  hint: e.g. underlay_mtu: 1500`,
  ]);
  deepStrictEqual(diagnose(VALID + "underlay_mtu: 9217\n"), [
    `weave.yaml:11:15: error: underlay_mtu must be a whole number from 576 to 9216, got 9217\n` +
    `  hint: e.g. underlay_mtu: 1500`,
  ]);
});

Deno.test("underlay_mtu below 1280 with an IPv6 underlay", () => {
  const yaml = VALID.replace("192.0.2.11", `"[2001:db8::11]:7000"`) + "underlay_mtu: 1200\n";
  deepStrictEqual(diagnose(yaml), [
    `weave.yaml:11:15: error: underlay_mtu 1200 is below 1280, the minimum for IPv6, and peer ` +
    `"edge-2" has an IPv6 address\n  hint: use underlay_mtu: 1280 or more`,
  ]);
});

Deno.test("an IPv6 overlay needs an overlay MTU of 1280", () => {
  const yaml = VALID.replace("10.32.1.0/24", "fd00:32:1::/64") + "underlay_mtu: 1300\n";
  deepStrictEqual(diagnose(yaml), [
    `weave.yaml:10:13: error: IPv6 subnet fd00:32:1::/64 needs an MTU of at least 1280, but ` +
    `underlay_mtu 1300 leaves 1214\n  hint: raise underlay_mtu to 1366 or more`,
  ]);
  // The hint is right: at 1364 the same config loads.
  deepStrictEqual(diagnose(yaml.replace("1300", "1366")), []);
});

Deno.test("metrics that is not host:port", () => {
  deepStrictEqual(diagnose(VALID + "metrics: localhost\n"), [
    `weave.yaml:11:10: error: metrics must be host:port, got "localhost": the port is missing\n` +
    `  hint: e.g. "metrics: 127.0.0.1:9100" or "[::1]:9100"; remove the line to turn metrics ` +
    `off`,
  ]);
  deepStrictEqual(diagnose(VALID + "metrics: 127.0.0.1:99999\n"), [
    `weave.yaml:11:10: error: metrics must be host:port, got "127.0.0.1:99999": the port must ` +
    `be a number from 1 to 65535\n  hint: e.g. "metrics: 127.0.0.1:9100" or "[::1]:9100"; ` +
    `remove the line to turn metrics off`,
  ]);
  deepStrictEqual(diagnose(VALID + "metrics: 9100\n"), [
    `weave.yaml:11:10: error: metrics must be text, got 9100\n` +
    `  hint: e.g. metrics: 127.0.0.1:9100`,
  ]);
});

Deno.test("metrics accepts IPv4, bracketed IPv6 and host names", () => {
  for (
    const [text, host, port] of [
      ["127.0.0.1:9100", "127.0.0.1", 9100],
      [`"[::1]:9101"`, "::1", 9101],
      ["localhost:9102", "localhost", 9102],
    ] as const
  ) {
    const r = parseConfig(VALID + `metrics: ${text}\n`, "weave.yaml", { env: ENV });
    deepStrictEqual(r.ok && r.config.metrics, { host, port });
  }
});

Deno.test("datapath not one of the modes", () => {
  deepStrictEqual(diagnose(VALID + "datapath: fast\n"), [
    `weave.yaml:11:11: error: datapath must be one of auto, fastdp, sleeve, got "fast"; did ` +
    `you mean "fastdp"?\n  hint: auto uses the kernel's VXLAN where both ends can and the ` +
    `sleeve otherwise`,
  ]);
});

Deno.test("empty or missing peers list", () => {
  deepStrictEqual(diagnose(VALID.replace(/peers:[^]*networks:/, "peers: []\nnetworks:")), [
    `weave.yaml:3:8: error: peers is empty\n` +
    `  hint: list every box of the fleet, peers: [{name: edge-1, address: 192.0.2.10}]`,
  ]);
  deepStrictEqual(diagnose(VALID.replace(/peers:[^]*networks:/, "networks:")), [
    `weave.yaml:1:1: error: peers is missing\n` +
    `  hint: list every box of the fleet, peers: [{name: edge-1, address: 192.0.2.10}]`,
  ]);
});

Deno.test("a peer without name or address", () => {
  deepStrictEqual(diagnose(VALID.replace("  - name: edge-2\n", "  - \n")), [
    `weave.yaml:7:5: error: peers[1] has no name\n  hint: add e.g. "name: edge-1"`,
  ]);
});

Deno.test("no networks is a warning", () => {
  const yaml = VALID.replace(/networks:[^]*/, "");
  deepStrictEqual(diagnose(yaml), []);
  deepStrictEqual(diagnose(yaml, "warning"), [
    `weave.yaml:1:1: warning: no networks: peers will connect but carry no traffic\n` +
    `  hint: add e.g. networks: [{name: sensors, subnet: 10.32.1.0/24}]`,
  ]);
});

Deno.test("derived member address colliding with an explicit one", () => {
  deepStrictEqual(diagnose(VALID + "    members:\n      edge-1: 10.32.1.2\n      edge-2:\n"), [
    `weave.yaml:13:7: error: derived address 10.32.1.2 of "edge-2" in network "sensors" is ` +
    `already given to "edge-1" (line 12)\n  hint: give "edge-2" an explicit address under ` +
    `members: of network "sensors"`,
  ]);
});

Deno.test("derived member address on the broadcast address, or outside the subnet", () => {
  const three = `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - {name: a, address: 192.0.2.1}
  - {name: b, address: 192.0.2.2}
  - {name: c, address: 192.0.2.3}
  - {name: d, address: 192.0.2.4}
networks:
  - name: tiny
    subnet: 10.32.1.0/30
`;
  deepStrictEqual(diagnose(three), [
    `weave.yaml:10:13: error: derived address of "c" in network "tiny" would be 10.32.1.3, ` +
    `the broadcast address of 10.32.1.0/30\n  hint: give "c" an explicit address under ` +
    `members: of network "tiny", or use a larger subnet`,
    `weave.yaml:10:13: error: derived address of "d" (peer #4) in network "tiny" would fall ` +
    `outside 10.32.1.0/30\n  hint: give "d" an explicit address under members: of network ` +
    `"tiny", or use a larger subnet`,
  ]);
});

Deno.test("all errors are collected, in file order", () => {
  const yaml = `version: 3
password: {env: WEAVE_PASSWORD}
port: abc
peers:
  - name: edge-1
    address: 192.0.2.300
networks:
  - name: Bad
    subnet: 10.32.1.0/24
    vni: -1
`;
  deepStrictEqual(
    diagnose(yaml).map((d) => d.split(": error: ")[0]),
    ["weave.yaml:1:10", "weave.yaml:3:7", "weave.yaml:6:14", "weave.yaml:8:11", "weave.yaml:10:10"],
  );
});

Deno.test("aliases are followed", () => {
  const yaml = VALID.replace("address: 192.0.2.10", "address: &a 192.0.2.10") +
    "    members: {edge-1: *a}\n";
  deepStrictEqual(diagnose(yaml), [
    `weave.yaml:5:17: error: address 192.0.2.10 of "edge-1" is outside subnet 10.32.1.0/24 of ` +
    `network "sensors"\n  hint: use an address inside 10.32.1.0/24, or leave it empty to ` +
    `derive one`,
  ]);
});

Deno.test("errors in peers do not hide errors in networks", () => {
  const yaml = VALID.replace("192.0.2.11", "not_an_ip") +
    "  - name: sensors\n    subnet: 10.32.1.0/25\n";
  deepStrictEqual(diagnose(yaml).map((d) => d.split("\n")[0]), [
    `weave.yaml:7:14: error: "not_an_ip" is not an IP address or a DNS name: label "not_an_ip" ` +
    `may only hold letters, digits and inner "-", at most 63 characters`,
    `weave.yaml:11:11: error: duplicate network name "sensors" (first on line 9)`,
    `weave.yaml:12:13: error: subnet 10.32.1.0/25 overlaps 10.32.1.0/24 of network "sensors" ` +
    `(line 10)`,
  ]);
});
