/**
 * The one place that decides whether a lab test runs. Lab tests build network namespaces, links
 * and nft tables, so they need root; everywhere else they are reported as ignored, never failed
 * and never silently passed. Their resources outlive single awaits (agent processes, sockets in
 * other namespaces), so Deno's op and resource sanitizers are off for them.
 *
 * Unit tests (`deno task test:unit`, beside the code) never import this: they need no root.
 *
 * @module
 */

/** True when this process may build labs. */
export const IS_ROOT: boolean = Deno.uid() === 0;

/** Options for a lab test: `Deno.test({ name, ...LAB, fn })` or `Deno.test(name, LAB, fn)`. */
export const LAB: Pick<Deno.TestDefinition, "ignore" | "sanitizeOps" | "sanitizeResources"> = {
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
};

/**
 * Options for a lab test whose every process and resource is its own to finish (the lab's own
 * tests): gated like `LAB`, with Deno's sanitizers left on, so a leak fails it.
 */
export const LAB_STRICT: Pick<
  Deno.TestDefinition,
  "ignore" | "sanitizeOps" | "sanitizeResources"
> = { ignore: !IS_ROOT, sanitizeOps: true, sanitizeResources: true };
