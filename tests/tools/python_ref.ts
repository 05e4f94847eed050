/**
 * Runs one of the independent reference implementations in tests/tools (Python, Debian's
 * /usr/bin/python3 with python3-cryptography and python3-nacl) with JSON on stdin and returns
 * its JSON answer. Known-answer tests compare our TypeScript against these.
 *
 * @module
 */

const dir = new URL(".", import.meta.url).pathname;

/** `/usr/bin/python3 tests/tools/<script>` with `input` as JSON on stdin; its stdout as JSON. */
export async function pythonJson<T>(script: string, input: unknown): Promise<T> {
  const p = new Deno.Command("/usr/bin/python3", {
    args: [`${dir}${script}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const o = await p.output();
  const td = new TextDecoder();
  if (!o.success) throw new Error(`${script}: ${td.decode(o.stderr)}`);
  return JSON.parse(td.decode(o.stdout)) as T;
}
