#!/bin/bash
# bench-report.sh OUTDIR LOOPFS_RESULTS STOCK_RESULTS: make bench's report.
#
# Reads the "table|..." and "curve|..." lines the benchmarks emitted
# (tests/lib.sh: table, curve) into the bench-*.txt files of the two boots'
# result directories and writes to OUTDIR:
#   table.md    one row per figure and kernel: value, noise, aim, met or not
#   PLOT.svg    one plot per curve name (gnuplot), a line per kernel and series
#               (a log scale y axis when the y label says "log scale")
#   PLOT.dat    the points behind it
#   report.md   what ran (kernels, command), the table, the plots
# A key starting with "xk_" is a figure to compare across the two kernels
# (each boot normalises it by a control of its own): the report adds a row
# with loopfs's value over stock's, judged by the row's aim.
# Exit 1 when a figure misses its aim or a boot left no figure.
set -uo pipefail
export LC_ALL=C
[ $# -eq 3 ] || { echo "usage: $0 OUTDIR LOOPFS_RESULTS STOCK_RESULTS" >&2; exit 2; }
out=$1
declare -A dir=([loopfs]=$2 [stock]=$3)
mkdir -p "$out"
rm -f "$out"/*.svg "$out"/*.dat "$out/table.md" "$out/report.md"

rows=$out/rows.tmp curves=$out/curves.tmp
: >"$rows"
: >"$curves"
rc=0
for k in loopfs stock; do
	d=${dir[$k]}
	found=0
	for f in "$d"/bench*.txt; do
		[ -f "$f" ] || continue
		found=1
		# kernel|key|what|value|noise|aim|note
		grep '^table|' "$f" | sed "s/^table|/$k|/" >>"$rows"
		grep '^curve|' "$f" | sed "s/^curve|/$k|/" >>"$curves"
	done
	[ $found = 1 ] || { echo "bench-report: no figures in $d" >&2; rc=1; }
done

# verdict VALUE AIM [NOISE]: met, MISSED or "-"; "(noisy)" added where the
# noise (percent) exceeds 10: the figure cannot tell
verdict() {
	awk -v v="$1" -v a="$2" -v n="${3:-0}" 'BEGIN {
		if (a == "-" || a == "" || v !~ /^[0-9.]+$/) { print "-"; exit }
		op = substr(a, 1, 2); x = substr(a, 3) + 0
		if (op == "<=") r = (v + 0 <= x) ? "met" : "MISSED"
		else if (op == ">=") r = (v + 0 >= x) ? "met" : "MISSED"
		else r = "-"
		if (r != "-" && n + 0 > 10) r = r " (noisy)"
		print r
	}'
}

{
	echo "| figure | kernel | value | noise % | aim | |"
	echo "|---|---|---|---|---|---|"
	while IFS='|' read -r k key what value noise aim note; do
		case $key in xk_*) continue ;; esac
		v=$(verdict "$value" "$aim" "$noise")
		case $v in MISSED*) rc=1 ;; esac
		echo "| $what${note:+ ($note)} \`$key\` | $k | $value | $noise | $aim | $v |"
	done <"$rows"
	# cross-kernel figures: loopfs over stock
	while IFS='|' read -r k key what value noise aim note; do
		[ "$k" = loopfs ] || continue
		case $key in xk_*) ;; *) continue ;; esac
		s=$(awk -F'|' -v key="$key" '$1 == "stock" && $2 == key { print $4 "|" $5; exit }' "$rows")
		if [ -z "$s" ]; then
			echo "| $what \`$key\` | loopfs/stock | NA (no stock figure) | | $aim | MISSED |"
			rc=1
			continue
		fi
		r=$(awk -v a="$value" -v b="${s%%|*}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "NA" }')
		n=$(awk -v a="$noise" -v b="${s#*|}" 'BEGIN { printf "%.1f", a + b }')
		v=$(verdict "$r" "$aim" "$n")
		case $v in MISSED*) rc=1 ;; esac
		echo "| $what${note:+ ($note)} \`$key\` | loopfs/stock | $r | $n | $aim | $v |"
	done <"$rows"
} >"$out/table.md"

# plots: curve lines are kernel|plot|title|xlabel|ylabel|series|x|y
plots=$(cut -d'|' -f2 "$curves" | sort -u)
for p in $plots; do
	awk -F'|' -v p="$p" '$2 == p' "$curves" >"$out/$p.tmp"
	IFS='|' read -r _ _ title xlabel ylabel _ <"$out/$p.tmp"
	: >"$out/$p.dat"
	plot=
	i=0
	while IFS= read -r s; do
		[ -n "$plot" ] && plot+=", "
		plot+="'$out/$p.dat' index $i using 1:2 with linespoints title '$s'"
		{
			echo "# $s"
			awk -F'|' -v s="$s" '$1 ": " $6 == s { print $7, $8 }' "$out/$p.tmp" | sort -g
			printf '\n\n'
		} >>"$out/$p.dat"
		i=$((i + 1))
	done < <(awk -F'|' '{ print $1 ": " $6 }' "$out/$p.tmp" | sort -u)
	rm -f "$out/$p.tmp"
	logy=
	case $ylabel in *"log scale"*) logy="set logscale y" ;; esac
	gnuplot <<-EOF || rc=1
		set terminal svg size 800,500 dynamic
		set output '$out/$p.svg'
		set title "$title"
		set xlabel "$xlabel"
		set ylabel "$ylabel"
		set key top left
		set grid
		$logy
		plot $plot
	EOF
done

{
	echo "# loopfs benchmarks"
	echo
	echo "Made by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC') ($(uname -m)," \
		"$(nproc) host cpus; guests under QEMU TCG: absolute times mean nothing," \
		"every figure is a ratio measured within one boot, or a cross-kernel ratio" \
		"of figures each normalised by a control of its boot)."
	echo
	for k in loopfs stock; do
		first=$(grep -h '^# loopfs ' "${dir[$k]}"/bench*.txt 2>/dev/null | head -1)
		echo "- $k kernel: ${first:-no figures}"
	done
	echo
	echo "Value: the median over interleaved rounds; noise: half the spread of"
	echo "the rounds over the median. The raw output of each benchmark is in"
	echo "build/results/bench-loopfs/ and build/results/bench-stock/."
	echo
	cat "$out/table.md"
	echo
	for p in $plots; do
		echo "![$p]($p.svg)"
		echo
	done
} >"$out/report.md"
rm -f "$rows" "$curves"
echo "bench-report: $out/report.md"
exit $rc
