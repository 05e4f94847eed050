/**
 * One planned change and how a plan is shown. A change is the exact command that applies it:
 * a line of an `ip -batch` / `bridge -batch` file, or an nft script loaded with `nft -f`.
 *
 * @module
 */

/** What kind of object a change touches, for grouping, display and the `down` coverage test. */
export type ChangeKind =
  | "link"
  | "address"
  | "route"
  | "fdb"
  | "xfrm-state"
  | "xfrm-policy"
  | "nft"
  | "sysctl";

/** One change: the exact command that applies it. */
export interface Change {
  kind: ChangeKind;
  description: string;
  tool: "ip" | "bridge" | "nft" | "sysctl";
  /**
   * For ip/bridge: the batch line's words. For nft: the script text in args[0]. For sysctl:
   * `key=value` items.
   */
  args: string[];
  /** Indices of args that hold key material (redacted when printed). */
  secretArgs?: number[];
  /**
   * For `ip`: run inside this network namespace, e.g. a workload's: a name under /run/netns
   * (`ip -n NAME`) or a namespace file's path (`nsenter --net=PATH ip`).
   */
  netns?: string;
  /**
   * The workload this change plumbs: the applier runs a workload's changes in batches of their
   * own, and a failure is that workload's error, not the plan's.
   */
  workload?: string;
}

/** An `ip -batch` line. */
export function ipChange(
  kind: ChangeKind,
  description: string,
  args: string[],
  secretArgs?: number[],
): Change {
  return secretArgs ? { kind, description, tool: "ip", args, secretArgs } : {
    kind,
    description,
    tool: "ip",
    args,
  };
}

/** A `bridge -batch` line. */
export function bridgeChange(kind: ChangeKind, description: string, args: string[]): Change {
  return { kind, description, tool: "bridge", args };
}

/** An nft script (one transaction). */
export function nftChange(description: string, script: string): Change {
  return { kind: "nft", description, tool: "nft", args: [script] };
}

const TOOL_ORDER = { ip: 0, bridge: 1, nft: 2, sysctl: 3 } as const;

/**
 * Within a phase, order does not matter across tools, so group by tool (stable within a tool):
 * the applier then needs one `ip -batch` and one `bridge -batch` per phase, not one per switch.
 */
export function byTool(changes: Change[]): Change[] {
  return changes
    .map((c, i) => ({ c, i }))
    .sort((a, b) => TOOL_ORDER[a.c.tool] - TOOL_ORDER[b.c.tool] || a.i - b.i)
    .map((x) => x.c);
}

/** The changes as the exact commands, keys redacted unless asked. */
export function renderPlan(changes: Change[], opts: { showKeys?: boolean } = {}): string {
  return changes.map((c) => {
    if (c.tool === "nft") return `# ${c.description}\nnft -f - <<'EOF'\n${c.args[0]}EOF`;
    if (c.tool === "sysctl") return `sysctl -qw ${c.args.join(" ")}  # ${c.description}`;
    const args = c.args.map((
      a,
      i,
    ) => (!opts.showKeys && c.secretArgs?.includes(i) ? "0x<redacted>" : a));
    if (c.netns?.startsWith("/")) {
      return `nsenter --net=${c.netns} ${c.tool} ${
        args.map((a) => (/^[\w.:/@,=+-]+$/.test(a) ? a : `'${a}'`)).join(" ")
      }  # ${c.description}`;
    }
    const words = c.netns ? ["-n", c.netns, ...args] : args;
    return `${c.tool} ${
      words.map((a) => (/^[\w.:/@,=+-]+$/.test(a) ? a : `'${a}'`)).join(" ")
    }  # ${c.description}`;
  }).join("\n");
}
