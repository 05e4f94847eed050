/**
 * `weave-agent validate`: checks weave.yaml and explains what it means for this box.
 *
 * @module
 */

import {
  describeForPeer,
  findSelf,
  formatDiagnostic,
  loadConfig,
  selfName,
} from "../../config/mod.ts";
import type { CommonFlags } from "./args.ts";

export async function validateCommand(flags: CommonFlags): Promise<number> {
  const result = await loadConfig(flags.config);
  const name = selfName(flags.name);
  if (flags.json) {
    const self = result.ok ? findSelf(result.config, name) : undefined;
    console.log(JSON.stringify(
      {
        ok: result.ok && !!self,
        diagnostics: result.diagnostics,
        self: self?.name ?? null,
        summary: result.ok && self ? describeForPeer(result.config, name) : null,
      },
      null,
      2,
    ));
    return result.ok && self ? 0 : 1;
  }
  for (const d of result.diagnostics) console.error(formatDiagnostic(d));
  if (!result.ok) {
    const errors = result.diagnostics.filter((d) => d.severity === "error").length;
    console.error(`${flags.config}: ${errors} error${errors === 1 ? "" : "s"}; config not valid`);
    return 1;
  }
  if (!findSelf(result.config, name)) {
    console.error(describeForPeer(result.config, name));
    return 1;
  }
  console.log(describeForPeer(result.config, name));
  return 0;
}
