import { deepStrictEqual, strictEqual } from "node:assert";
import type { Peer } from "../config/types.ts";
import { Logger } from "./ops/log.ts";
import { PeerEndpoints } from "./peer_endpoints.ts";
import { peerReach } from "./status.ts";
import { localFastdpCapability, pairUnderlayReason } from "./datapath_choice.ts";

const ip = (name: string, address: string): Peer => ({
  name,
  address,
  family: 4,
  port: 6783,
  index: 0,
  endpoint: { kind: "ip", ip: address, family: 4, port: 6783 },
  key: null,
});
const dialOut = (name: string): Peer => ({
  name,
  address: "",
  family: 4,
  port: 6783,
  index: 1,
  endpoint: null,
  key: new Uint8Array(32).fill(7),
});
const dns = (name: string, host: string): Peer => ({
  ...dialOut(name),
  endpoint: { kind: "dns", host, port: 6783 },
});

function endpoints() {
  const logs: string[] = [];
  return { e: new PeerEndpoints(new Logger("t", "info", "text", (l) => logs.push(l))), logs };
}

Deno.test("#15 sleeve target: a dial-out peer starts at its control source, then follows datagrams", () => {
  const { e, logs } = endpoints();
  const hub = ip("hub", "192.0.2.1"), box = dialOut("box");
  deepStrictEqual(e.target(hub, box, 25_000), { address: "", port: 6783, keepaliveMs: 25_000 });
  strictEqual(e.fromControl(box, "::ffff:198.51.100.9"), true);
  deepStrictEqual(e.target(hub, box, 25_000), {
    address: "198.51.100.9",
    port: 6783,
    keepaliveMs: 25_000,
  });
  const moved = { peer: "box", address: "198.51.100.9", port: 40001, previous: null, at: 0 };
  strictEqual(e.fromSleeve(box, moved), true);
  strictEqual(e.fromSleeve(box, moved), false, "the same endpoint again is no change");
  // A new control connection from the same NAT address keeps the port the datagrams showed.
  strictEqual(e.fromControl(box, "198.51.100.9"), false);
  deepStrictEqual(e.target(hub, box, 25_000).port, 40001);
  deepStrictEqual(logs.map((l) => l.replace(/^\S+ /, "")), [
    'info  t: peer endpoint learned peer=box endpoint=198.51.100.9:6783 previous=none from="control connection"',
    'info  t: peer endpoint changed peer=box endpoint=198.51.100.9:40001 previous=198.51.100.9:6783 from="authenticated datagram"',
  ]);
  strictEqual(e.view().get("box")?.source, "sleeve");
});

Deno.test("#15 keepalives only for pairs across a NAT; fixed pairs get none", () => {
  const { e } = endpoints();
  const a = ip("a", "192.0.2.1"), b = ip("b", "192.0.2.2");
  strictEqual(e.target(a, b, 25_000).keepaliveMs, 0);
  strictEqual(e.target(dialOut("self"), b, 25_000).keepaliveMs, 25_000);
  strictEqual(e.target(a, dns("n", "n.example.net"), 25_000).keepaliveMs, 25_000);
  // A fixed peer heard from elsewhere (a NAT in front of it): keepalives from then on.
  strictEqual(
    e.fromSleeve(b, { peer: "b", address: "192.0.2.2", port: 6783, previous: null, at: 0 }),
    false,
  );
  strictEqual(e.target(a, b, 25_000).keepaliveMs, 0);
  e.fromSleeve(b, { peer: "b", address: "203.0.113.5", port: 1024, previous: null, at: 0 });
  deepStrictEqual(e.target(a, b, 25_000), {
    address: "192.0.2.2",
    port: 6783,
    keepaliveMs: 25_000,
  });
  strictEqual(e.fromControl(b, "203.0.113.5"), false, "a fixed peer's address is not guessed");
});

Deno.test("#15 datapath: fast only between fixed addresses reached directly, and status says why", () => {
  const full = { vxlan: true, vxlanDetail: "ok", esp: true, espDetail: "ok" };
  deepStrictEqual(localFastdpCapability("auto", true, full, dialOut("box")), {
    capable: false,
    reason: "this box has no fixed underlay address (dial-out only, behind NAT): VXLAN and ESP " +
      "do not pass NAT, so the sleeve",
  });
  strictEqual(localFastdpCapability("auto", true, full, ip("a", "192.0.2.1")).capable, true);
  strictEqual(
    pairUnderlayReason(dns("n", "n.example.net"), "192.0.2.9"),
    "peer n is given by DNS name (n.example.net), not a fixed address: fast datapath needs " +
      "both ends' addresses fixed, so the sleeve",
  );
  strictEqual(pairUnderlayReason(ip("b", "192.0.2.2"), "192.0.2.2"), null);
  strictEqual(pairUnderlayReason(ip("b", "192.0.2.2"), null), null);
  strictEqual(
    pairUnderlayReason(ip("b", "192.0.2.2"), "203.0.113.5"),
    "peer b is configured at 192.0.2.2 but its session comes from 203.0.113.5 (NAT): VXLAN " +
      "and ESP do not pass NAT, so the sleeve",
  );
  deepStrictEqual(
    [
      peerReach(ip("a", "192.0.2.1"), ip("b", "192.0.2.2")),
      peerReach(ip("a", "192.0.2.1"), dialOut("box")),
      peerReach(dialOut("box"), ip("a", "192.0.2.1")),
      peerReach(ip("a", "192.0.2.1"), dns("n", "n.example.net")),
    ],
    ["fixed", "dial-out", "dials-out", "dns"],
  );
});
