import { ok, strictEqual } from "node:assert";
import { describeForPeer, describeList, findSelf } from "./describe.ts";
import { selfName } from "./self_name.ts";
import { parseConfig } from "./parse.ts";
import type { Config } from "./types.ts";

const YAML = `version: 1
password: {env: WEAVE_PASSWORD}
datapath: auto
peers:
  - name: edge-1
    address: 192.0.2.10
  - name: edge-2
    address: 192.0.2.11:7000
  - name: edge-3
    address: 192.0.2.12
networks:
  - name: sensors
    subnet: 10.32.1.0/24
    vni: 101
  - name: control
    subnet: 10.32.2.0/24
    members:
      edge-2: 10.32.2.20
      edge-3:
`;

function load(yaml: string, env: Record<string, string> = { WEAVE_PASSWORD: "pw" }): Config {
  const r = parseConfig(yaml, "/etc/weave/weave.yaml", { env });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.config;
}

Deno.test("describeForPeer: who, where, whom it connects to, its networks", () => {
  strictEqual(
    describeForPeer(load(YAML), "edge-2"),
    `peer edge-2 (peer 2 of 3) in /etc/weave/weave.yaml
  underlay: 192.0.2.11:7000 (control TCP, sleeve UDP), VXLAN UDP 6784, underlay MTU 1500
  connects to: edge-1 192.0.2.10:6783, edge-3 192.0.2.12:6783
  datapath: auto
  encryption: on, password from environment variable WEAVE_PASSWORD
  network sensors: 10.32.1.0/24, address 10.32.1.2 (derived), vni 101, mtu 1414
    members: edge-1 10.32.1.1, edge-2 10.32.1.2, edge-3 10.32.1.3
  network control: 10.32.2.0/24, address 10.32.2.20, vni 13522570 (derived), mtu 1414
    members: edge-2 10.32.2.20, edge-3 10.32.2.3`,
  );
});

// Sleeve over IPv6 without encryption: 1500 - 40 IPv6 - 8 UDP - 12 relay - 16 header - 16 tag - 14 Ethernet.
Deno.test("describeForPeer: a peer outside some networks, no encryption, IPv6 underlay", () => {
  const yaml = YAML.replace("password: {env: WEAVE_PASSWORD}\n", "")
    .replace("192.0.2.10", "2001:db8::10");
  strictEqual(
    describeForPeer(load(yaml, {}), "edge-1"),
    `peer edge-1 (peer 1 of 3) in /etc/weave/weave.yaml
  underlay: [2001:db8::10]:6783 (control TCP, sleeve UDP), VXLAN UDP 6784, underlay MTU 1500
  connects to: edge-2 192.0.2.11:7000, edge-3 192.0.2.12:6783
  datapath: auto
  encryption: OFF (no password; traffic crosses the underlay in clear text)
  network sensors: 10.32.1.0/24, address 10.32.1.1 (derived), vni 101, mtu 1394
    members: edge-1 10.32.1.1, edge-2 10.32.1.2, edge-3 10.32.1.3
  not a member of: control`,
  );
});

Deno.test("describeForPeer never prints the password", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weave-config-" });
  try {
    await Deno.writeTextFile(`${dir}/pw`, "do-not-print-me\n", { mode: 0o600 });
    const yaml = YAML.replace("{env: WEAVE_PASSWORD}", "{file: pw}").replace(
      "datapath: auto",
      "datapath: sleeve",
    );
    const r = parseConfig(yaml, `${dir}/weave.yaml`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const text = describeForPeer(r.config, "edge-3");
    ok(!text.includes("do-not-print-me"), text);
    strictEqual(text.split("\n")[4], `  encryption: on, password from file ${dir}/pw`);
    const line = text.split("\n")[5];
    ok(line.endsWith("mtu 1414"), line);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeForPeer for a name not in the config: error with did-you-mean and --name", () => {
  strictEqual(
    describeForPeer(load(YAML), "edge2"),
    `/etc/weave/weave.yaml:1:1: error: this box is "edge2", which is not a peer in the config; ` +
      `did you mean "edge-2"?\n  hint: pass --name with one of: edge-1, edge-2, edge-3`,
  );
  strictEqual(
    describeForPeer(load(YAML), "gateway"),
    `/etc/weave/weave.yaml:1:1: error: this box is "gateway", which is not a peer in the ` +
      `config\n  hint: pass --name with one of: edge-1, edge-2, edge-3`,
  );
});

Deno.test("findSelf and selfName", () => {
  const config = load(YAML);
  strictEqual(findSelf(config, "edge-3")?.index, 2);
  strictEqual(findSelf(config, "edge-4"), undefined);
  strictEqual(selfName("edge-9"), "edge-9");
  strictEqual(selfName(), Deno.hostname());
  strictEqual(selfName(""), Deno.hostname());
});

Deno.test("describeForPeer sums up long lists: a 100-peer fleet stays one readable line each", () => {
  const peers = Array.from(
    { length: 100 },
    (_, i) => `  - name: p${i}\n    address: 192.0.2.${i + 1}`,
  );
  const r = parseConfig(
    ["version: 1", "peers:", ...peers, "networks:", "  - name: a\n    subnet: 10.1.0.0/16"]
      .join("\n") + "\n",
    "/x/weave.yaml",
  );
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const text = describeForPeer(r.config, "p0");
  const connects = text.split("\n").find((l) => l.startsWith("  connects to:"))!;
  const members = text.split("\n").find((l) => l.startsWith("    members:"))!;
  strictEqual(connects.includes("99 peers: p1 192.0.2.2:6783, "), true, connects);
  strictEqual(connects.endsWith(", p20 192.0.2.21:6783, … (79 more)"), true, connects);
  strictEqual(members.endsWith(", p19 10.1.0.20, … (80 more)"), true, members);
});

Deno.test("describeList: short lists whole, long ones the first 20 and how many more", () => {
  const names = Array.from({ length: 25 }, (_, i) => `n${i}`);
  strictEqual(describeList(names.slice(0, 20), "peers"), names.slice(0, 20).join(", "));
  strictEqual(
    describeList(names, "peers"),
    `25 peers: ${names.slice(0, 20).join(", ")}, … (5 more)`,
  );
  strictEqual(
    describeList(names, null, { separator: " " }),
    `${names.slice(0, 20).join(" ")} … (5 more)`,
  );
  strictEqual(describeList([], "peers"), "");
});

Deno.test("describeForPeer: an unknown name in a big fleet gets a short hint", () => {
  const peers = Array.from(
    { length: 500 },
    (_, i) => `  - name: box-${i}\n    address: 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
  );
  const r = parseConfig(["version: 1", "peers:", ...peers].join("\n") + "\n", "/x/weave.yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const text = describeForPeer(r.config, "box-5000");
  const hint = text.split("\n").find((l) => l.includes("hint:"))!;
  ok(
    hint.endsWith(
      "pass --name with one of: 500 peers: box-0, box-1, box-2, box-3, box-4, " +
        "box-5, box-6, box-7, box-8, box-9, box-10, box-11, box-12, box-13, box-14, box-15, " +
        "box-16, box-17, box-18, box-19, … (480 more)",
    ),
    hint,
  );
  ok(text.length < 400, `${text.length} characters`);
});
