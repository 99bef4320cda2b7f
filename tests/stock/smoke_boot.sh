#!/bin/bash
# The stock loop driver is there: /dev/loop-control exists, `losetup -f`
# names a free /dev/loopN, and a file attached there reads back its data.
set -euo pipefail
[ -c /dev/loop-control ] || { echo "no /dev/loop-control"; exit 1; }
dev=$(losetup -f)
[[ $dev =~ ^/dev/loop[0-9]+$ ]] || { echo "losetup -f printed '$dev'"; exit 1; }
echo "free loop device: $dev"
printf 'loopfs smoke %04096d' 7 > img
truncate -s 1M img
dev=$(losetup -f --show img)
trap 'losetup -d "$dev"' EXIT
[ "$(head -c 12 "$dev")" = "loopfs smoke" ] || { echo "$dev reads back wrong data"; exit 1; }
echo "attached img to $dev and read it back"
