import { strictEqual } from "node:assert";
import { canonicalAddress } from "./peer_address.ts";

Deno.test("canonical addresses: v4, v4-mapped v6, v6 compression and case", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["::FFFF:127.0.0.11", "127.0.0.11"],
    ["0:0:0:0:0:ffff:10.1.2.3", "10.1.2.3"],
    ["::ffff:a01:203", "10.1.2.3"],
    ["FE80:0000:0000:0000:0000:0000:0000:0001", "fe80::1"],
    ["fe80:0::1", "fe80::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0001:0000:0000:0000:0000:0000", "2001:db8:1::"],
    ["::", "::"],
    ["::1", "::1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
    ["fe80::1%eth0", "fe80::1"],
    ["not-an-address", "not-an-address"],
    ["1::2::3", "1::2::3"],
  ];
  for (const [input, want] of cases) strictEqual(canonicalAddress(input), want, input);
});
