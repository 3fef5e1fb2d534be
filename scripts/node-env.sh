#!/usr/bin/env bash
# Source this file (or run `scripts/node-env.sh CMD...`) to get Node 24 on PATH.
# The project targets Node 24 LTS; machines with an older node get node@24 from the npm
# registry, installed once under .local/node (git-ignored), so no system change is needed.
_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_required_major=24
_local_node_bin="$_repo_root/.local/node/node_modules/.bin"

_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$_local_node_bin/node" ] && [ "$(_node_major "$_local_node_bin/node")" -ge "$_required_major" ]; then
  export PATH="$_local_node_bin:$PATH"
elif ! command -v node >/dev/null 2>&1 || [ "$(_node_major)" -lt "$_required_major" ]; then
  echo "node-env: machine node is $(node --version 2>/dev/null || echo 'missing'); installing node@$_required_major into .local/node" >&2
  if ! command -v npm >/dev/null 2>&1; then
    echo "node-env: npm is needed to fetch node@$_required_major; install Node.js (any version with npm) first" >&2
    return 1 2>/dev/null || exit 1
  fi
  mkdir -p "$_repo_root/.local/node"
  npm install --prefix "$_repo_root/.local/node" --no-audit --no-fund --loglevel=error "node@$_required_major" >&2 || {
    echo "node-env: could not install node@$_required_major from the npm registry" >&2
    return 1 2>/dev/null || exit 1
  }
  export PATH="$_local_node_bin:$PATH"
fi
unset _repo_root _required_major _local_node_bin

# Executed (not sourced) with arguments: run them under Node 24.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  exec "$@"
fi
