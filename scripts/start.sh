#!/usr/bin/env bash
# `npm start`: install what is missing, build, and open the extension in a real VS Code
# (code-server) on 127.0.0.1 with the sample workspace. Prints the URL; Ctrl+C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
exec node scripts/start.mjs "$@"
