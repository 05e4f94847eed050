/**
 * Where an agent keeps its files. Everything is keyed by the peer name, so several agents on one
 * host (one per network namespace, as in the lab) never collide, and `status` / `down` find the
 * agent again by the same key.
 *
 * @module
 */

/** Default folder for sockets and state; override with `--run-dir` or `WEAVE_RUN_DIR`. */
export const DEFAULT_RUN_DIR = "/run/weave-agent";

/** Default config path. */
export const DEFAULT_CONFIG_PATH = "/etc/weave/weave.yaml";

/** Files of one agent. */
export interface RunPaths {
  dir: string;
  /** Unix control socket (root-only): status, plan, shutdown. */
  socket: string;
  /** Pid file: which process owns this name. */
  pid: string;
}

/** Peer names are validated by config (`[A-Za-z0-9._-]`); refuse anything path-like anyway. */
export function runPaths(dir: string, name: string): RunPaths {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new Error(`invalid peer name for run files: ${JSON.stringify(name)}`);
  }
  return { dir, socket: `${dir}/${name}.sock`, pid: `${dir}/${name}.pid` };
}

/** The run dir from the flag, the environment, or the default. */
export function resolveRunDir(flag?: string): string {
  return flag ?? Deno.env.get("WEAVE_RUN_DIR") ?? DEFAULT_RUN_DIR;
}
