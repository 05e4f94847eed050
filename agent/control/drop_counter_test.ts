import { deepStrictEqual, strictEqual } from "node:assert";
import { DropCounter } from "./drop_counter.ts";
import type { LogFields, Logger, LogLevel } from "./logger.ts";

function collecting(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (level: LogLevel, msg: string, _f?: LogFields) => lines.push(`${level} ${msg}`);
  return {
    lines,
    logger: {
      log,
      debug: (m, f) => log("debug", m, f),
      info: (m, f) => log("info", m, f),
      warn: (m, f) => log("warn", m, f),
      error: (m, f) => log("error", m, f),
    },
  };
}

Deno.test("drops: every drop counted, at most `burst` lines per key and window, then a summary", () => {
  let t = 0;
  const { logger, lines } = collecting();
  const d = new DropCounter(logger, 2, 1000, () => t);
  for (let i = 0; i < 5; i++) d.drop("garbage", "10.0.0.1", `bad ${i}`);
  d.drop("garbage", "10.0.0.2", "other source");
  d.count("auth");
  strictEqual(d.snapshot().garbage, 6);
  strictEqual(d.snapshot().auth, 1);
  deepStrictEqual(lines, ["warn bad 0", "warn bad 1", "warn other source"]);
  t = 1000;
  d.drop("garbage", "10.0.0.1", "later");
  deepStrictEqual(lines.slice(3), ["warn garbage:10.0.0.1: 3 more suppressed", "warn later"]);
});
