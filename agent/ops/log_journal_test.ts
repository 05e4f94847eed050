/**
 * Under the journal (JOURNAL_STREAM names our stderr) log lines carry syslog priorities and no
 * timestamps; anywhere else, as before. The real-process test lets a shell compute
 * JOURNAL_STREAM for the very pipe it hands the agent as stderr, as systemd does for its socket.
 */

import { deepStrictEqual, doesNotMatch, match, strictEqual } from "node:assert";
import { isJournalStream, Logger, SYSLOG_PRIORITY } from "./log.ts";

Deno.test("journal: JOURNAL_STREAM must name this very stderr", () => {
  strictEqual(isJournalStream("8:1234", { dev: 8, ino: 1234 }), true);
  strictEqual(
    isJournalStream("8:1234", { dev: 8, ino: 999 }),
    false,
    "stderr redirected elsewhere",
  );
  strictEqual(isJournalStream(undefined, { dev: 8, ino: 1234 }), false);
  strictEqual(isJournalStream("", { dev: 8, ino: 1234 }), false);
  strictEqual(isJournalStream("8:1234", null), false);
});

Deno.test("journal: <priority> prefixes per level and per line, no timestamp, text and JSON", () => {
  const lines: string[] = [];
  const log = new Logger("agent", "debug", "text", (l) => lines.push(l), true);
  log.error("bad\nsecond line", { peer: "edge-2" });
  log.warn("careful");
  log.child("control").info("up");
  log.debug("detail");
  deepStrictEqual(lines, [
    "<3>agent: bad\n<3>second line peer=edge-2",
    "<4>agent: careful",
    "<6>control: up",
    "<7>agent: detail",
  ]);
  deepStrictEqual(SYSLOG_PRIORITY, { debug: 7, info: 6, warn: 4, error: 3 });
  const json: string[] = [];
  new Logger("agent", "info", "json", (l) => json.push(l), true).warn("w", { n: 1 });
  strictEqual(json[0], '<4>{"level":"warn","component":"agent","msg":"w","n":1}');
  const plain: string[] = [];
  new Logger("agent", "info", "text", (l) => plain.push(l), false).warn("w");
  match(plain[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z warn {2}agent: w$/);
});

async function agentStderr(journalStream: "computed" | string): Promise<string> {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const exec =
    `exec "$0" run --allow-all --unstable-ffi "$1" up -c /nonexistent/weave.yaml --name x`;
  const script = journalStream === "computed"
    ? `JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2); export JOURNAL_STREAM; ${exec}`
    : `JOURNAL_STREAM=${journalStream}; export JOURNAL_STREAM; ${exec}`;
  const out = await new Deno.Command("sh", {
    args: ["-c", script, Deno.execPath(), main],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  strictEqual(out.code, 1);
  return new TextDecoder().decode(out.stderr);
}

Deno.test("journal: a real agent on a journal stream prefixes every line and prints no time", async () => {
  const text = (await agentStderr("computed")).trimEnd();
  for (const line of text.split("\n")) match(line, /^<[3-7]>/);
  match(text, /^<3>agent: invalid config:/m);
  doesNotMatch(text, /\d{4}-\d\d-\d\dT\d\d:\d\d/);
});

Deno.test("journal: JOURNAL_STREAM naming another stream changes nothing", async () => {
  const text = await agentStderr("1:1");
  match(text, /^\d{4}-\d\d-\d\dT[\d:.]+Z error agent: invalid config:/m);
  doesNotMatch(text, /^<\d>/m);
});
