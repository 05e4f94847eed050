/**
 * The connection manager over real TCP on loopback (every peer on 127.0.0.1, its own port, so
 * source-address checks hold): mesh, simultaneous dial, wrong password, versions, bad input.
 */

import { strictEqual } from "node:assert";
import { PeerConnections, type PeerConnectionsOptions } from "./peer_connections.ts";
import { Logger } from "./log.ts";

const enc = new TextEncoder();
let nextPort = 17000 + Math.floor(Math.random() * 2000) * 10;

interface Node {
  pc: PeerConnections;
  lines: string[];
  ups: Set<string>;
}

function mesh(
  names: string[],
  opts: Partial<PeerConnectionsOptions> & { passwords?: Record<string, string> } = {},
) {
  const base = (nextPort += 50);
  const port = (n: string) => base + names.indexOf(n);
  return names.map((name): Node => {
    const lines: string[] = [];
    const ups = new Set<string>();
    const pc = new PeerConnections({
      localName: name,
      listenAddress: "127.0.0.1",
      listenPort: port(name),
      peers: names.filter((n) => n !== name).map((n) => ({
        name: n,
        address: "127.0.0.1",
        port: port(n),
      })),
      password: enc.encode(opts.passwords?.[name] ?? "shared fleet password"),
      logger: new Logger(name, "debug", "text", (l) => lines.push(l)),
      heartbeatMs: 200,
      deadAfterMs: 1500,
      ...opts,
    });
    pc.addEventListener("session-up", (e) => ups.add((e as CustomEvent).detail.peer));
    pc.addEventListener("session-down", (e) => ups.delete((e as CustomEvent).detail.peer));
    return { pc, lines, ups };
  });
}

async function until(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return pred();
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...opts,
  name: "four managers form a full mesh; messages flow sealed both ways; RTT is measured",
  async fn() {
    const nodes = mesh(["a", "b", "c", "d"]);
    try {
      nodes.forEach((n) => n.pc.start());
      strictEqual(await until(() => nodes.every((n) => n.ups.size === 3)), true);
      const got: unknown[] = [];
      nodes[3].pc.addEventListener("message", (e) => got.push((e as CustomEvent).detail));
      strictEqual(nodes[0].pc.send("d", { type: "hello", n: 1 }), true);
      strictEqual(await until(() => got.length === 1), true);
      strictEqual(
        JSON.stringify(got[0]),
        JSON.stringify({ peer: "a", msg: { type: "hello", n: 1 } }),
      );
      await until(() => (nodes[0].pc.status().peers.b as { rttMs: number | null }).rttMs !== null);
      strictEqual(typeof (nodes[0].pc.status().peers.b as { rttMs: number }).rttMs, "number");
    } finally {
      nodes.forEach((n) => n.pc.close());
    }
  },
});

Deno.test({
  ...opts,
  name: "both sides dialling at once end with exactly one session each",
  async fn() {
    for (let round = 0; round < 3; round++) {
      const nodes = mesh(["a", "b"], { largerNameDialDelayMs: 0 });
      try {
        nodes.forEach((n) => n.pc.start());
        strictEqual(await until(() => nodes.every((n) => n.ups.size === 1)), true);
        await new Promise((r) => setTimeout(r, 600));
        // Still one session, the same on both sides, carrying messages.
        const ida = (nodes[0].pc.status().peers.b as { state: string }).state;
        strictEqual(ida, "up");
        const got: unknown[] = [];
        nodes[1].pc.addEventListener("message", (e) => got.push(e));
        nodes[0].pc.send("b", { type: "x" });
        strictEqual(await until(() => got.length === 1), true, `round ${round}`);
      } finally {
        nodes.forEach((n) => n.pc.close());
      }
    }
  },
});

Deno.test({
  ...opts,
  name: "wrong password: both sides say 'password mismatch with peer <name> at <address>'",
  async fn() {
    const nodes = mesh(["a", "b"], { passwords: { b: "not the same password" } });
    try {
      nodes.forEach((n) => n.pc.start());
      strictEqual(
        await until(() => nodes.every((n) => n.lines.some((l) => /password mismatch/.test(l)))),
        true,
      );
      strictEqual(
        nodes[0].lines.some((l) => l.includes("password mismatch with peer b at 127.0.0.1")),
        true,
      );
      strictEqual(
        nodes[1].lines.some((l) => l.includes("password mismatch with peer a at 127.0.0.1")),
        true,
      );
      strictEqual(nodes[0].ups.size + nodes[1].ups.size, 0);
      strictEqual((nodes[0].pc.status().peers.b as { state: string }).state, "auth-failed");
    } finally {
      nodes.forEach((n) => n.pc.close());
    }
  },
});

Deno.test({
  ...opts,
  name: "incompatible protocol versions are refused with a clear log on both sides",
  async fn() {
    const nodes = mesh(["a", "b"]);
    nodes.forEach((n) => n.pc.close());
    const base = (nextPort += 50);
    const mk = (
      name: string,
      peer: string,
      port: number,
      peerPort: number,
      v: { min: number; max: number },
    ) => {
      const lines: string[] = [];
      const pc = new PeerConnections({
        localName: name,
        listenAddress: "127.0.0.1",
        listenPort: port,
        peers: [{ name: peer, address: "127.0.0.1", port: peerPort }],
        password: enc.encode("pw"),
        logger: new Logger(name, "debug", "text", (l) => lines.push(l)),
        versions: v,
      });
      return { pc, lines };
    };
    const a = mk("a", "b", base, base + 1, { min: 1, max: 1 });
    const b = mk("b", "a", base + 1, base, { min: 2, max: 3 });
    try {
      a.pc.start();
      b.pc.start();
      strictEqual(
        await until(() =>
          [a, b].every((n) => n.lines.some((l) => /incompatible protocol versions/.test(l)))
        ),
        true,
      );
      strictEqual(a.lines.some((l) => l.includes("speaks 2..3, this agent 1..1")), true);
      strictEqual(b.lines.some((l) => l.includes("speaks 1..1, this agent 2..3")), true);
      strictEqual(a.pc.status().drops["bad-version"] > 0, true);
    } finally {
      a.pc.close();
      b.pc.close();
    }
  },
});

Deno.test({
  ...opts,
  name: "garbage, truncated and oversize input is dropped and counted; the session survives",
  async fn() {
    const nodes = mesh(["a", "b"]);
    try {
      nodes.forEach((n) => n.pc.start());
      strictEqual(await until(() => nodes.every((n) => n.ups.size === 1)), true);
      const port =
        Number((nodes[0].pc.status().peers.b as { address: string }).address.split(":")[1]) - 1;
      const inputs = [
        crypto.getRandomValues(new Uint8Array(200)),
        enc.encode("weave-agent\0"),
        new Uint8Array([...enc.encode("weave-agent\0"), 1, 1, 0]),
        new Uint8Array([...enc.encode("weave-agent\0"), 1, 1, 200, ...new Uint8Array(10)]),
        enc.encode("GET / HTTP/1.1\r\n\r\n"),
      ];
      for (let i = 0; i < 200; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(inputs[i % inputs.length]).catch(() => 0);
        c.close();
      }
      await new Promise((r) => setTimeout(r, 300));
      const drops = nodes[0].pc.status().drops;
      const total = Object.values(drops).reduce((x, y) => x + y, 0);
      strictEqual(total >= 150, true, JSON.stringify(drops));
      strictEqual(nodes[0].ups.has("b"), true);
      // Logs are rate-limited: far fewer lines than inputs.
      strictEqual(nodes[0].lines.filter((l) => /dropped/.test(l)).length < 60, true);
    } finally {
      nodes.forEach((n) => n.pc.close());
    }
  },
});

Deno.test({
  ...opts,
  name: "peers not in the config, or claiming a name from the wrong address, are refused",
  async fn() {
    const base = (nextPort += 50);
    const lines: string[] = [];
    const ups: string[] = [];
    // a knows b at 127.0.0.2; every dial on loopback comes from 127.0.0.1.
    const a = new PeerConnections({
      localName: "a",
      listenAddress: "127.0.0.1",
      listenPort: base,
      peers: [{ name: "b", address: "127.0.0.2", port: base + 1 }],
      password: enc.encode("pw"),
      logger: new Logger("a", "debug", "text", (l) => lines.push(l)),
    });
    a.addEventListener("session-up", (e) => ups.push((e as CustomEvent).detail.peer));
    const impostors = ["b", "stranger"].map((name, i) =>
      new PeerConnections({
        localName: name,
        listenAddress: "127.0.0.1",
        listenPort: base + 2 + i,
        peers: [{ name: "a", address: "127.0.0.1", port: base }],
        password: enc.encode("pw"),
        logger: new Logger(name, "error", "text", () => {}),
        largerNameDialDelayMs: 0,
      })
    );
    try {
      a.start();
      impostors.forEach((p) => p.start());
      strictEqual(await until(() => a.status().drops["unknown-peer"] >= 2), true);
      strictEqual(ups.length, 0);
      strictEqual(
        lines.some((l) =>
          l.includes('refused "b" from 127.0.0.1') && l.includes("expected from 127.0.0.2")
        ),
        true,
      );
      strictEqual(
        lines.some((l) =>
          l.includes('refused "stranger" from 127.0.0.1: not a peer in weave.yaml')
        ),
        true,
      );
    } finally {
      a.close();
      impostors.forEach((p) => p.close());
    }
  },
});
