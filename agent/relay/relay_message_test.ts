import { deepStrictEqual, strictEqual } from "node:assert";
import { parseRelayMessage, RELAY_CHUNK_BYTES, relayWire } from "./relay_message.ts";

const FLEET = new Set(["edge-1", "edge-2", "edge-3"]);

Deno.test("relay message: data survives the wire form", () => {
  const data = new Uint8Array([0, 1, 2, 250, 255]);
  const wire = relayWire({
    type: "relay",
    from: "edge-1",
    to: "edge-2",
    stream: 0x80000001,
    hops: 4,
    data,
  });
  const back = parseRelayMessage(JSON.parse(JSON.stringify(wire)), FLEET);
  strictEqual(back.ok, true, JSON.stringify(back));
  if (back.ok && back.m.type === "relay") {
    deepStrictEqual([...back.m.data], [...data]);
    strictEqual(back.m.stream, 0x80000001);
  }
});

Deno.test("relay message: bad input from the network is refused with a reason", () => {
  const ok = { type: "relay", from: "edge-1", to: "edge-2", stream: 1, hops: 4, data: "AAEC" };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...ok, from: "edge-9" }, "from edge-9 is not in the fleet"],
    [{ ...ok, to: "Bad Name" }, "to is not a peer name"],
    [{ ...ok, to: "edge-1" }, "from and to are the same box"],
    [{ ...ok, stream: -1 }, "stream is not a u32"],
    [{ ...ok, stream: 2 ** 32 }, "stream is not a u32"],
    [{ ...ok, hops: 5 }, "hops out of range"],
    [{ ...ok, data: "!!!!" }, "data is not base64"],
    [{ ...ok, data: "" }, "data of 0 bytes (1..16384)"],
    [{ ...ok, data: btoa("x".repeat(RELAY_CHUNK_BYTES + 3)) }, "data of 16387 bytes (1..16384)"],
  ];
  for (const [msg, why] of cases) {
    const r = parseRelayMessage({ ...msg, type: String(msg.type) }, FLEET);
    deepStrictEqual(r, { ok: false, why }, JSON.stringify(msg).slice(0, 80));
  }
});

Deno.test("relay message: a close keeps a bounded reason", () => {
  const r = parseRelayMessage({
    type: "relay-close",
    from: "edge-2",
    to: "edge-1",
    stream: 7,
    hops: 0,
    why: "x".repeat(1000),
  }, FLEET);
  strictEqual(r.ok && r.m.type === "relay-close" ? r.m.why.length : -1, 200);
});
