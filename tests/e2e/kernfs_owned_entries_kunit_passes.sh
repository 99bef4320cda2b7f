#!/bin/bash
# timeout: 300
# Contract clauses 4.1 and 4.5 at the kernfs level: the KUnit test of entries owned
# by user namespaces (kernfs_owner: an owned child of a KERNFS_USER_NS
# directory is seen through the super_blocks of exactly its owner, names
# stay unique whatever the owner, unowned children are seen everywhere)
# ran at boot in the debugging kernel and every one of its cases passed.
# Its results stay in debugfs; this test reads them.
. "$(dirname "$0")/../lib.sh"

require_root
dir=/sys/kernel/debug/kunit/kernfs_owner
[ -r "$dir/results" ] || fail "no $dir/results: CONFIG_KERNFS_KUNIT_TEST did not run"
print_file "$dir/results"
# The suite's own plan is the indented one (the first line of the file
# plans the one suite).
plan=$(sed -n 's/^[[:space:]]\{1,\}1\.\.\([0-9][0-9]*\)$/\1/p' "$dir/results" | head -1)
[ -n "$plan" ] || fail "no plan (1..N) of the suite's cases in the results"
assert_num "$plan" "planned cases"
[ "$plan" -ge 4 ] || fail "only $plan cases planned"
if grep -q 'not ok' "$dir/results"; then
	fail "a kernfs_owner case failed: $(grep 'not ok' "$dir/results" | head -3)"
fi
passed=$(grep -cE '^[[:space:]]+ok [0-9]+ ' "$dir/results")
assert_eq "$passed" "$plan" "kernfs_owner cases passed"
grep -qE '^ok [0-9]+ kernfs_owner' "$dir/results" || fail "the suite itself is not reported ok"
ok "kernfs_owner: $passed/$plan cases passed"
