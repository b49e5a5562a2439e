#!/bin/sh
# Issue 13's cost on the hot paths it touched: the rows of bench/tokens.ts against two checkouts of the server,
# interleaved A B A B A B (BENCH_COMPARE in bench/tokens.ts). A is the older checkout, B this one; this checkout's
# bench file drives both.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/compare.sh [<old checkout dir> [<old commit>]]
#
# <old commit> defaults to 7ef38e4~1 (the commit before issue 13 started), <old checkout dir> to wt-bench-old next to
# this checkout; when the directory is missing it is made here (git worktree add --detach, then npm ci in it).
# Defaults it sets unless given: BENCH_SERVERS=postgres,pglite (postgres skipped without DATABASE_URL),
# BENCH_ENDPOINTS=token,introspect,exchange (token is the control row: issue 13 did not change its path much).
# BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS and BENCH_COMPARE_ROUNDS (3) pass through.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
old_dir=${1:-$(dirname "$repo")/wt-bench-old}
old_commit=${2:-7ef38e4~1}
want=$(git -C "$repo" rev-parse --verify "$old_commit^{commit}")
if [ ! -d "$old_dir" ]; then
  echo "making $old_dir at $old_commit ($want)"
  git -C "$repo" worktree add --detach "$old_dir" "$want"
  (cd "$old_dir" && npm ci --no-audit --no-fund)
fi
have=$(git -C "$old_dir" rev-parse HEAD)
if [ "$have" != "$want" ]; then
  echo "warning: $old_dir is at $have, not $old_commit ($want)" >&2
fi
cd "$repo"
BENCH_COMPARE="$old_dir" \
BENCH_SERVERS="${BENCH_SERVERS:-postgres,pglite}" \
BENCH_ENDPOINTS="${BENCH_ENDPOINTS:-token,introspect,exchange}" \
exec node --import tsx bench/tokens.ts
