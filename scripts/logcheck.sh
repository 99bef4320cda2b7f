#!/bin/bash
# logcheck.sh CONSOLE_LOG: fail (exit 1, printing the offending lines) if the
# guest console shows a kernel splat, or if kmemleak.txt next to it is not
# empty.  Lines starting with `| ` (test output echoed by run-suite.sh) are
# not kernel messages and are ignored.
set -euo pipefail
log=${1:?usage: logcheck.sh CONSOLE_LOG}
[ -s "$log" ] || { echo "logcheck: $log is missing or empty"; exit 1; }
pat='BUG:|WARNING:|KASAN|possible circular locking|possible recursive locking'
pat+='|inconsistent lock state|DEBUG_LOCKS_WARN_ON|Kernel panic|Oops|general protection fault'
pat+='|list_add corruption|list_del corruption|unreferenced object'
pat+='|suspected memory leak|INFO: task .* blocked|RCU stall'
pat+='|rcu_.*detected stall|detected stalls on CPU|UBSAN|refcount_t:'
bad=0
if hits=$(tr -d '\r' < "$log" | grep -nE "$pat" | grep -vE '^[0-9]+: *\| '); then
	echo "logcheck: $log:"
	echo "$hits" | head -n 40
	bad=1
fi
leaks=$(dirname "$log")/kmemleak.txt
if [ -s "$leaks" ]; then
	echo "logcheck: $leaks is not empty:"
	head -n 40 "$leaks"
	bad=1
fi
exit $bad
