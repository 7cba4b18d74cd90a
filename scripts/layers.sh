#!/bin/sh
# layers.sh - checks that finlockd's includes run one way.
#
#   sh scripts/layers.sh [TABLE]     (TABLE: src/server/layers.txt)
#
# Reads the layer table (one "layer: module..." line or more per layer,
# lowest layer first) and every #include "server/X.h" of src/server/*.[ch],
# and fails (exit 1, one line per problem) when
#   - a file of src/server belongs to no layer of the table,
#   - a file includes a header of a higher layer,
#   - the includes between modules form a cycle (printed as a path),
#   - src/core includes anything of store or server, or src/store anything
#     of server.
# A module is a file name without .c or .h: x.c and x.h are one module.
set -eu

cd "$(dirname "$0")/.."
table=${1:-src/server/layers.txt}
[ -r "$table" ] || { echo "layers: cannot read $table" >&2; exit 1; }

status=0
# core and store stay below the server (docs/server.md).
bad=$(grep -n '#include "\(store\|server\)/' src/core/*.[ch] 2>/dev/null || true)
bad="$bad$(grep -n '#include "server/' src/store/*.[ch] 2>/dev/null || true)"
if [ -n "$bad" ]; then
	printf '%s\n' "$bad" | sed 's/^/layers: lower library includes upward: /' >&2
	status=1
fi

# One line per include: "module included-module", and "module -" for a
# file with none, so every file is seen.
for f in src/server/*.c src/server/*.h; do
	m=$(basename "$f"); m=${m%.*}
	echo "$m -"
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"server\/\([^"]*\)\.h".*/\1/p' "$f" |
		while read -r dep; do echo "$m $dep $f"; done
done | awk -v table="$table" '
function layer_of(m,    p) {
	if (m in exact)
		return exact[m]
	for (p in prefix)
		if (index(m, p) == 1)
			return prefix[p]
	return ""
}
# Depth-first search; colour 1 on the path, 2 done. Prints the first
# cycle found through each unvisited module.
function visit(m,    i, d, k) {
	colour[m] = 1
	path[++depth] = m
	for (i = 1; i <= nout[m]; i++) {
		d = out[m, i]
		if (colour[d] == 1) {
			line = ""
			for (k = 1; k <= depth; k++)
				if (path[k] == d || line != "")
					line = line path[k] " -> "
			print "layers: include cycle: " line d > "/dev/stderr"
			bad = 1
		} else if (colour[d] == 0) {
			visit(d)
		}
	}
	depth--
	colour[m] = 2
}
BEGIN {
	n = 0
	while ((getline l < table) > 0) {
		sub(/#.*/, "", l)
		if (l !~ /:/)
			continue
		name = l; sub(/:.*/, "", name); gsub(/[ \t]/, "", name)
		if (!(name in rank)) {
			rank[name] = ++n
			lname[n] = name
		}
		rest = l; sub(/^[^:]*:/, "", rest)
		k = split(rest, mods, /[ \t]+/)
		for (i = 1; i <= k; i++) {
			if (mods[i] == "")
				continue
			if (mods[i] ~ /\*$/) {
				p = mods[i]; sub(/\*$/, "", p)
				prefix[p] = rank[name]
			} else {
				exact[mods[i]] = rank[name]
			}
		}
	}
	if (n == 0) {
		print "layers: no layers in " table > "/dev/stderr"
		exit 1
	}
}
{
	m = $1; d = $2
	if (!(m in seen)) {
		seen[m] = 1
		mods_order[++nm] = m
		if (layer_of(m) == "") {
			print "layers: " m " is in no layer of " table > "/dev/stderr"
			bad = 1
		}
	}
	if (d == "-" || d == m)
		next
	lm = layer_of(m); ld = layer_of(d)
	if (ld == "") {
		print "layers: " $3 " includes server/" d ".h, which is in no layer" > "/dev/stderr"
		bad = 1
	} else if (lm != "" && ld > lm) {
		print "layers: " $3 " (" lname[lm] ") includes server/" d ".h (" lname[ld] ", a higher layer)" > "/dev/stderr"
		bad = 1
	}
	if (!((m, d) in edge)) {
		edge[m, d] = 1
		out[m, ++nout[m]] = d
	}
}
END {
	if (n == 0)
		exit 1
	depth = 0
	for (i = 1; i <= nm; i++)
		if (colour[mods_order[i]] == 0)
			visit(mods_order[i])
	exit bad
}' || status=1

if [ "$status" -eq 0 ]; then
	echo "layers: ok ($(ls src/server/*.c src/server/*.h | wc -l | tr -d ' ') files of src/server, no upward include, no cycle)"
fi
exit "$status"
