#!/bin/sh
# Writes a C file holding the web assets (web/*) as byte arrays, so that
# finlockd serves its pages with nothing installed beside it:
#
#   sh scripts/web-assets.sh OUT.c web/check.html web/app.css ...
#
# Each asset becomes one entry of fl_web_assets[] (server/web.h): its file
# name, its bytes (followed by a NUL that is not counted), its length and
# an ETag made of the first 16 hex digits of its SHA-256.
set -eu
out=$1
shift
tmp="$out.tmp"
{
	echo "/* Generated from web/ by scripts/web-assets.sh: do not edit. */"
	echo "#include \"server/web.h\""
	i=0
	for f in "$@"; do
		echo "static const unsigned char a$i[] = {"
		od -An -v -tx1 "$f" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
		echo "0x00};"
		i=$((i + 1))
	done
	echo "const struct fl_web_asset fl_web_assets[] = {"
	i=0
	for f in "$@"; do
		name=$(basename "$f")
		len=$(wc -c <"$f" | tr -d ' ')
		tag=$(sha256sum "$f" | cut -c1-16)
		echo "        {\"$name\", a$i, $len, \"\\\"$tag\\\"\"},"
		i=$((i + 1))
	done
	echo "};"
	echo "const size_t fl_web_n_assets = $i;"
} >"$tmp"
mv "$tmp" "$out"
