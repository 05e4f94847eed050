import { deepStrictEqual, strictEqual } from "node:assert";
import { Logger, RateLimitedLog } from "./log.ts";

Deno.test("text and JSON log lines: one line per event, fields kept, level filter", () => {
  const lines: string[] = [];
  const text = new Logger("agent", "info", "text", (l) => lines.push(l));
  text.debug("hidden");
  text.warn("session down", { peer: "edge-2", reason: "no message for 7000 ms" });
  strictEqual(lines.length, 1);
  strictEqual(
    /^\S+Z warn {2}agent: session down peer=edge-2 reason="no message for 7000 ms"$/.test(lines[0]),
    true,
    lines[0],
  );
  const json: string[] = [];
  new Logger("control", "debug", "json", (l) => json.push(l)).info("session up", {
    peer: "edge-3",
    session: 4,
  });
  const o = JSON.parse(json[0]);
  delete o.time;
  deepStrictEqual(o, {
    level: "info",
    component: "control",
    msg: "session up",
    peer: "edge-3",
    session: 4,
  });
});

Deno.test("rate-limited log: a burst per key, then one summary line", () => {
  const lines: string[] = [];
  let now = 0;
  const r = new RateLimitedLog(
    new Logger("x", "info", "text", (l) => lines.push(l)),
    3,
    1000,
    () => now,
  );
  for (let i = 0; i < 100; i++) r.log("warn", "garbage:10.0.0.9", "dropped garbage");
  strictEqual(lines.length, 3);
  now = 1500;
  r.log("warn", "garbage:10.0.0.9", "dropped garbage");
  strictEqual(lines.length, 5);
  strictEqual(lines[3].includes("garbage:10.0.0.9: 97 more suppressed"), true, lines[3]);
});
