/**
 * The datapath: everything that puts packets on the box's kernel or the wire.
 *
 * - `command.ts`: the one process runner (timeouts, throwaway namespaces, the error contract).
 * - `kernel_probe.ts`: what this kernel can do, probed for real; `datapathCaps` maps a probe to
 *   fast-datapath capabilities (the one home of that rule).
 * - `link_names.ts`, `mtu.ts`: leaf facts (our link names, overlay MTUs) that `config/` may use.
 * - `logger.ts`: the logger interface datapath code takes as an option (never agent/'s logger).
 * - `host/`: the reconciler for both datapaths (desired → observed → plan → apply), nft rulesets.
 * - `fastdp/`: what only the fast datapath needs (ESP keys).
 * - `sleeve/`: the encrypted user-space datapath (TAP ↔ UDP).
 *
 * May import: `config/` types and leaf facts, npm crypto libraries. Never `agent/`: arrows run
 * `config/` ← `datapath/` ← `agent/`. Within this folder, `kernel_probe.ts` → `host/xfrm_args.ts`
 * is one way (host/ never imports the probe).
 *
 * @module
 */

export {
  CommandError,
  type CommandResult,
  mustRun,
  runCommand,
  THROWAWAY_NETNS_PREFIX,
  throwawayNetnsName,
  withThrowawayNetns,
} from "./command.ts";
export {
  datapathCaps,
  type KernelCaps,
  type KernelDatapathCaps,
  probeKernel,
} from "./kernel_probe.ts";
export * as host from "./host/mod.ts";
