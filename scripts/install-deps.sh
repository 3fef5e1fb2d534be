#!/usr/bin/env bash
# Installs the npm dependencies as locked, once per lockfile change.
#
# `npm install` rather than `npm ci`: the lockfile lists only the native binaries of the
# platforms the registry here serves (e.g. @swc/core-linux-x64-gnu), and `npm ci` rejects a
# lockfile without every platform's optional package. `npm install` installs the same locked
# versions; the check below fails if it had to change the lockfile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.asana-stream-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "deps: npm install (package-lock.json changed or node_modules is missing)"
npm install --no-audit --no-fund --loglevel=error
if [ "$(sha256sum package-lock.json | cut -d' ' -f1)" != "$want" ]; then
  echo "deps: npm install changed package-lock.json: package.json and the lockfile disagree; commit the new lockfile" >&2
  exit 1
fi
echo "$want" > "$stamp"
