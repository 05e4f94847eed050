#!/usr/bin/env bash
# Runs `deno task test:unit` as an unprivileged user (nobody, 65534, no groups), proving the
# unit tests need no root. Run as root from the repository root:
#   bash scripts/test_unit_unprivileged.sh
# nobody cannot read root's home, so the Deno binary and Deno's cache are copied into a
# temporary HOME it owns; the checkout itself is only read.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test_unit_unprivileged.sh: run as root (it drops to uid 65534 itself)" >&2
  exit 1
fi
home="$(mktemp -d /tmp/weave-unit-nobody-XXXXXX)"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/bin" "$home/deno_dir"
cp "$(readlink -f "$(command -v deno)")" "$home/bin/deno"
src_dir="$(deno info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["denoDir"])')"
# The whole cache (npm packages and type-check results, ~30 MB): a fresh one re-checks it all.
if [ -d "$src_dir" ]; then cp -a "$src_dir/." "$home/deno_dir/"; fi
chown -R 65534:65534 "$home"

setpriv --reuid=65534 --regid=65534 --clear-groups \
  env -i HOME="$home" DENO_DIR="$home/deno_dir" PATH="$home/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  NO_COLOR=1 CI="${CI:-}" \
  deno task test:unit </dev/null
