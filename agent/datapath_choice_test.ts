import { deepStrictEqual, strictEqual } from "node:assert";
import {
  isDecider,
  localFastdpCapability,
  pairProbeDecision,
  pairStartDecision,
} from "./datapath_choice.ts";

const full = { vxlan: true, vxlanDetail: "ok", esp: true, espDetail: "ok" };
const noEsp = {
  vxlan: true,
  vxlanDetail: "ok",
  esp: false,
  espDetail: "Requested AEAD algorithm not found",
};

Deno.test("capability: sleeve mode, missing VXLAN, missing ESP only matters when encrypted", () => {
  strictEqual(localFastdpCapability("sleeve", true, full).capable, false);
  deepStrictEqual(localFastdpCapability("auto", true, noEsp), {
    capable: false,
    reason:
      "this kernel lacks IPsec ESP with rfc4106(gcm(aes)) (Requested AEAD algorithm not found)",
  });
  deepStrictEqual(localFastdpCapability("auto", false, noEsp), {
    capable: true,
    reason: "kernel VXLAN",
  });
  strictEqual(
    localFastdpCapability("fastdp", false, { ...full, vxlan: false, vxlanDetail: "no module" })
      .reason,
    "this kernel cannot create VXLAN devices (no module)",
  );
});

Deno.test("start: a pair probes only when both ends are capable, and says whose lack it is", () => {
  const yes = { capable: true, reason: "kernel VXLAN" };
  const no = { capable: false, reason: "this kernel lacks IPsec ESP" };
  strictEqual(pairStartDecision(yes, yes, "b").datapath, "probing");
  deepStrictEqual(pairStartDecision(no, yes, "b"), {
    datapath: "sleeve",
    reason: "this kernel lacks IPsec ESP",
  });
  deepStrictEqual(pairStartDecision(yes, no, "b"), {
    datapath: "sleeve",
    reason: "peer b: this kernel lacks IPsec ESP",
  });
});

Deno.test("probe: fast datapath only when both directions answered", () => {
  strictEqual(pairProbeDecision(null, null, false, "b", 5000), null);
  strictEqual(pairProbeDecision(true, null, false, "b", 5000), null);
  strictEqual(pairProbeDecision(true, true, false, "b", 5000)?.datapath, "fastdp");
  deepStrictEqual(pairProbeDecision(true, false, false, "b", 5000), {
    datapath: "sleeve",
    reason: "heartbeat through VXLAN from b got no answer within 5000 ms",
  });
  deepStrictEqual(pairProbeDecision(null, true, true, "b", 5000), {
    datapath: "sleeve",
    reason: "heartbeat through VXLAN to b got no answer within 5000 ms",
  });
  strictEqual(pairProbeDecision(true, null, true, "b", 5000)?.datapath, "sleeve");
});

Deno.test("exactly one side of a pair decides", () => {
  strictEqual(isDecider("a", "b"), true);
  strictEqual(isDecider("b", "a"), false);
});
