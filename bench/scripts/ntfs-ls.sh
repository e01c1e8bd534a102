#!/usr/bin/env bash
# pluck ls -R --json vs fls -l -r -p on an NTFS of FILES (default 100,000) files.
# usage: bench/scripts/ntfs-ls.sh [FILES] [RUNS]   (as root: an ntfs-3g mount fills the image)
exec "$(dirname "$0")/ls-vs-fls.sh" ntfs "${1:-100000}" "${2:-3}"
