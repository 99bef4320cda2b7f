#!/bin/bash
# The stock loop driver is there: /dev/loop-control exists, `losetup -f`
# names a free /dev/loopN, and a file attached there reads back its data.
# (lib.sh's exit check: no loop device is left over.)
. "$(dirname "$0")/../lib.sh"

[ -c /dev/loop-control ] || fail "no /dev/loop-control"
dev=$(losetup -f) || fail "losetup -f failed"
[[ $dev =~ ^/dev/loop[0-9]+$ ]] || fail "losetup -f printed '$dev'"
info "free loop device: $dev"
printf 'loopfs smoke %04096d' 7 >img
truncate -s 1M img || fail "truncate img"
dev=$(losetup -f --show img) || fail "losetup -f --show img"
defer losetup -d "$dev"
[ "$(head -c 12 "$dev")" = "loopfs smoke" ] || fail "$dev reads back wrong data"
ok "attached img to $dev and read it back"
