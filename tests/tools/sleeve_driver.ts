/**
 * Runs one Sleeve (the real packet worker, on a real TAP and UDP socket) in a lab namespace and
 * drives its session interface from a command file, for lab tests of rekeying without the
 * control plane. Each line appended to the command file is run in order, and answered in the
 * log with `done <n> <result>`:
 *
 *   session SEED LOCAL REMOTE   upsertPeer with that session (installed and sent under)
 *   install SEED LOCAL REMOTE   installSession
 *   use LOCAL                   useSession
 *   retire LOCAL                retireSession
 *   counters                    the peer's counters as JSON
 *
 * Both ends derive the same session from SEED (a word); `--dialer` says which end is which.
 *
 *   deno run -A --unstable-ffi sleeve_driver.ts --listen A --port P --tap T --vni V --mtu M
 *     --peer-address B [--dialer] --commands FILE
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { Sleeve, type SleeveSession } from "../../datapath/sleeve/mod.ts";

function arg(name: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= Deno.args.length) throw new Error(`sleeve_driver: --${name} is required`);
  return Deno.args[i + 1];
}

const dialer = Deno.args.includes("--dialer");
const port = Number(arg("port"));
const vni = Number(arg("vni"));
const peer = "peer";
const sleeve = await Sleeve.start({
  listenAddress: arg("listen"),
  port,
  networks: [{ vni, name: "net", tap: arg("tap"), mtu: Number(arg("mtu")) }],
  logger: console,
  onSessionEvent: (e) => console.log(`event ${e.kind} ${e.localIndex} ${e.packets}`),
});
const base = { name: peer, address: arg("peer-address"), port, networks: [vni], active: true };
await sleeve.upsertPeer({ ...base, session: null });

function session(seed: string, local: string, remote: string): SleeveSession {
  const h = (s: string) => sha256(new TextEncoder().encode(`${seed} ${s}`));
  return {
    sessionKey: h("key"),
    dialerNonce: h("dialer"),
    listenerNonce: h("listener"),
    localIsDialer: dialer,
    localIndex: Number(local),
    remoteIndex: Number(remote),
    aead: "aes-256-gcm",
  };
}

async function run(line: string): Promise<string> {
  const [cmd, ...a] = line.trim().split(/\s+/);
  switch (cmd) {
    case "session":
      await sleeve.upsertPeer({ ...base, session: session(a[0], a[1], a[2]) });
      return "ok";
    case "install":
      await sleeve.installSession(peer, session(a[0], a[1], a[2]));
      return "ok";
    case "use":
      await sleeve.useSession(peer, Number(a[0]));
      return "ok";
    case "retire":
      await sleeve.retireSession(peer, Number(a[0]));
      return "ok";
    case "counters":
      return JSON.stringify(sleeve.counters().peers[peer]);
    default:
      throw new Error(`unknown command ${JSON.stringify(line)}`);
  }
}

console.log("driver ready");
const file = arg("commands");
let done = 0;
Deno.addSignalListener("SIGTERM", async () => {
  await sleeve.close();
  Deno.exit(0);
});
for (;;) {
  const lines = (await Deno.readTextFile(file).catch(() => "")).split("\n").filter((l) => l.trim());
  while (done < lines.length) {
    const line = lines[done++];
    const result = await run(line).catch((e) => `error ${e instanceof Error ? e.message : e}`);
    console.log(`done ${done} ${result}`);
  }
  await new Promise((r) => setTimeout(r, 10));
}
