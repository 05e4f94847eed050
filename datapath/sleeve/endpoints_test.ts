import { deepStrictEqual, strictEqual } from "node:assert";
import { endpointText, LearnedEndpoints } from "./endpoints.ts";

Deno.test("#15 learned endpoints: canonical, with the one before; unparsable text ignored", () => {
  const l = new LearnedEndpoints();
  const first = l.moved("edge-2", "198.51.100.9", 40001, 1000)!;
  deepStrictEqual(first, {
    peer: "edge-2",
    address: "198.51.100.9",
    port: 40001,
    previous: null,
    at: 1000,
  });
  const v6 = l.moved("edge-2", "2001:db8:0:0:0:0:0:1", 443, 2000)!;
  deepStrictEqual([v6.address, v6.previous], ["2001:db8::1", "198.51.100.9:40001"]);
  strictEqual(
    endpointText(v6),
    "endpoint of edge-2 is now [2001:db8::1]:443 (was 198.51.100.9:40001)",
  );
  strictEqual(l.moved("edge-2", "not an address", 1), null);
  l.delete("edge-2");
  strictEqual(l.snapshot().size, 0);
});
