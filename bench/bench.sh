#!/usr/bin/env bash
# `npm run bench`: compiles the apps, the libs and bench/ into a folder of this run's own
# (.local/bench/build-<pid>: dist/ may be rebuilt by anyone while a run lasts, and the figures must
# be of one build), makes sure Kafka and Postgres answer, then runs bench/run.ts with the arguments
# given (`npm run bench -- --help`). With `--ref <commit>`, the apps and libs are that commit's
# (taken with `git archive`, the work tree untouched); the benchmarks always come from the work tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/node-env.sh
repo="$PWD"

ref=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --ref) ref="${args[$((i + 1))]:-}" ;;
    --ref=*) ref="${args[$i]#--ref=}" ;;
  esac
done

build="$repo/.local/bench/build-$$"
trap 'rm -rf "$build" "$build.src"' EXIT
src="$repo"
if [ -n "$ref" ]; then
  src="$build.src"
  mkdir -p "$src"
  git archive "$ref" apps libs .swcrc | tar -x -C "$src"
  cp -R bench "$src/bench"
fi
swc="$repo/node_modules/.bin/swc"
# The compilation of `npm run build`, into this run's folder; then the benchmarks beside it.
(cd "$src" && "$swc" apps libs -d "$build" --config-file .swcrc --copy-files --quiet)
(cd "$src" && "$swc" bench -d "$build" --config-file .swcrc --ignore '**/*.d.ts' --quiet)

for arg in "$@"; do
  case "$arg" in -h | --help)
    node "$build/bench/run.js" --help
    exit 0
    ;;
  esac
done
bash scripts/ensure-kafka.sh >&2
bash scripts/postgres.sh ensure >&2
# --expose-gc: a measurement settles the bench's own heap before it starts (bench/lib/heap.ts).
BENCH_REF="$ref" node --expose-gc "$build/bench/run.js" "$@"
