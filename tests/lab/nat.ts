/**
 * Boxes behind NAT for the #15 lab tests: a router host of the lab masquerades (nft) a private
 * link to a box that has no address on the underlay; and a weave.yaml where boxes carry node
 * keys and may have no address (dial-out only) or a DNS name. Agents run with `lab.startAgent`;
 * `status` through the real CLI.
 *
 * @module
 */

import { cli } from "./fleet.ts";
import type { Lab, LabHost } from "./lab.ts";
import type { AgentStatus } from "../../agent/agent.ts";

/** A box behind a NAT router: its namespace, its private address, the router. */
export interface NatBox {
  host: LabHost;
  /** Its address on the private link (no prefix). */
  privateAddress: string;
  router: LabHost;
}

/**
 * Puts a new machine `name` behind `router` (a lab host): a veth pair, the private /24
 * `<net>.0/24` (router .1, box .2 unless given), the box's default route via the router,
 * forwarding and nft masquerade out of the router's underlay link, `fully-random` so the
 * mapping's source port differs from the box's own (as behind most carrier NATs: the public
 * end must learn it). The box has no underlay address of its own: the lab's other hosts see
 * only the router's.
 */
export async function addNatBox(
  lab: Lab,
  router: LabHost,
  name: string,
  net = "192.168.77",
  hostOctet = 2,
  /**
   * False: a home router (#16): plain `masquerade`, which keeps the box's source port where it
   * is free (one public port per socket, whatever the destination), and unsolicited inbound UDP
   * dropped before conntrack confirms it (so a stranger's datagram to the public port leaves
   * no entry that would make the NAT pick another port for the box's next flow). What UDP hole
   * punching needs.
   */
  fullyRandom = true,
): Promise<NatBox> {
  const box = await lab.addMachine(name);
  const inside = `nat-${name}`.slice(0, 15);
  const run = async (argv: string[]) => {
    const r = await new Deno.Command(argv[0], { args: argv.slice(1), stderr: "piped" }).output();
    if (!r.success) {
      throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
    }
  };
  await run([
    "ip",
    "link",
    "add",
    inside,
    "netns",
    router.ns,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    box.ns,
  ]);
  await run(["ip", "-n", router.ns, "addr", "add", `${net}.1/24`, "dev", inside]);
  await run(["ip", "-n", router.ns, "link", "set", inside, "up"]);
  const privateAddress = `${net}.${hostOctet}`;
  await run(["ip", "-n", box.ns, "addr", "add", `${privateAddress}/24`, "dev", "eth0"]);
  await run(["ip", "-n", box.ns, "link", "set", "eth0", "up"]);
  await run(["ip", "-n", box.ns, "route", "add", "default", "via", `${net}.1`]);
  await lab.exec(router, ["sysctl", "-qw", "net.ipv4.ip_forward=1"], { check: true });
  const ruleset = [
    "table ip weave_lab_nat {",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    oifname "${router.link}" ip saddr ${net}.0/24 masquerade${
      fullyRandom ? " fully-random" : ""
    }`,
    "  }",
    "}",
    ...(fullyRandom ? [] : [
      "table inet weave_lab_nat_filter {",
      "  chain input {",
      "    type filter hook input priority filter; policy accept;",
      `    iifname "${router.link}" meta l4proto udp ct state new drop`,
      "  }",
      "}",
    ]),
  ].join("\n");
  await lab.exec(router, ["nft", "-f", "-"], { stdin: ruleset, check: true });
  return { host: { ...box, link: "eth0", address: privateAddress }, privateAddress, router };
}

/** One peer of a keyed weave.yaml: no address (dial-out only), an IP, or a DNS name. */
export interface KeyedPeer {
  name: string;
  /** `address:` as written (an IP or a DNS name); absent: dial-out only. */
  address?: string;
}

/**
 * Makes a node key for every peer (`weave-agent keygen`, in the run folder) and writes one
 * weave.yaml per peer (`weave-<name>.yaml`, `key_file: node-<name>.key`); returns their paths.
 */
export async function writeKeyedFleet(
  lab: Lab,
  peers: KeyedPeer[],
  password: string,
  extra: string[] = [],
): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  const anyHost = lab.hosts[0];
  for (const p of peers) {
    const r = await cli(lab, anyHost, ["keygen", "--out", `${lab.runDir}/node-${p.name}.key`]);
    if (r.code !== 0) throw new Error(`keygen for ${p.name}: ${r.stderr}`);
    keys.set(p.name, r.stdout.trim());
  }
  const pw = await lab.writeFile("secret.txt", password + "\n", 0o600);
  const configs = new Map<string, string>();
  for (const self of peers) {
    const lines = [
      "version: 1",
      "password:",
      `  file: ${pw}`,
      "datapath: auto",
      `key_file: node-${self.name}.key`,
      ...extra,
      "peers:",
    ];
    for (const p of peers) {
      lines.push(`  - name: ${p.name}`);
      if (p.address) lines.push(`    address: ${p.address}`);
      lines.push(`    key: ${keys.get(p.name)}`);
    }
    lines.push("networks:", "  - name: net1", "    subnet: 10.40.1.0/24", "");
    configs.set(self.name, await lab.writeFile(`weave-${self.name}.yaml`, lines.join("\n")));
  }
  return configs;
}

/** Starts `name`'s agent in `host` with its config from `writeKeyedFleet`. */
export function startKeyedAgent(lab: Lab, host: LabHost, configs: Map<string, string>) {
  return lab.startAgent(host, [
    "-c",
    configs.get(host.name)!,
    "--name",
    host.name,
    "--log-level",
    "debug",
  ]);
}

/** `status --json` of the agent in `host`, or null when none answers. */
export async function statusOf(lab: Lab, host: LabHost): Promise<AgentStatus | null> {
  const r = await cli(lab, host, ["status", "--json", "--name", host.name]);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as AgentStatus;
  } catch {
    return null;
  }
}

/** Polls `status` of every host until `pred` holds for all of them; throws with the last. */
export async function waitForAll(
  lab: Lab,
  hosts: LabHost[],
  pred: (s: AgentStatus) => boolean,
  timeoutMs: number,
): Promise<Map<string, AgentStatus>> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, AgentStatus>();
  while (Date.now() < deadline) {
    last = new Map();
    for (const h of hosts) {
      const s = await statusOf(lab, h);
      if (s) last.set(h.name, s);
    }
    if (last.size === hosts.length && [...last.values()].every(pred)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  lab.markFailed();
  throw new Error(
    `condition not met within ${timeoutMs} ms; last statuses:\n` +
      [...last.values()].map((s) =>
        `${s.peer}: ` +
        s.peers.map((p) =>
          `${p.name}=${p.state}/${p.datapath} (${p.reason}) learned=${
            JSON.stringify(p.learnedEndpoint)
          }`
        ).join(", ")
      ).join("\n") + `\nlogs in ${lab.runDir}`,
  );
}

/** Every peer in the status is up. */
export const allUp = (s: AgentStatus) => s.peers.every((p) => p.state === "up");
