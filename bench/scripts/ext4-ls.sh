#!/usr/bin/env bash
# pluck ls -R --json vs fls -l -r -p on an ext4 of FILES (default 200,000) files.
# usage: bench/scripts/ext4-ls.sh [FILES] [RUNS]
exec "$(dirname "$0")/ls-vs-fls.sh" ext4 "${1:-200000}" "${2:-3}"
