#!/usr/bin/env bash
# Installs the npm dependencies exactly as package-lock.json locks them, once per lockfile change.
#
# `npm ci`: exact, and it never writes the lockfile. The lockfile lists every platform's optional
# native packages (@swc/core-*, @unrs/resolver-binding-* …), so whichever of them the registry
# serves on a given day, `npm ci` installs this platform's and skips the rest. When package.json
# and the lockfile disagree, `npm ci` refuses: run `npm install` and commit the lockfile it writes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.asana-stream-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "deps: npm ci (package-lock.json changed or node_modules is missing)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
