#!/bin/sh
# The built-in glossary is data/glossary-en.tsv plus data/glossary-en.d/*.tsv, compiled in that
# order, a later entry winning for the same term (src/translate/CMakeLists.txt). A term that a
# later file defines again with another translation silently replaces the earlier one, so this
# check fails on such cross-file conflicts (the same translation twice is harmless), on lines
# that are not "term<TAB>translation", and on a part file that is not UTF-8.
set -eu
src=${ITX_SOURCE_DIR:?}
cd "$src"
set -- data/glossary-en.tsv
for f in data/glossary-en.d/*.tsv; do
    [ -e "$f" ] && set -- "$@" "$f"
done
status=0
for f in "$@"; do
    if ! iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1; then
        echo "FAIL $f: not UTF-8"
        status=1
    fi
done
awk -F '\t' '
    /^#/ || /^[ \r]*$/ { next }
    NF != 2 || $2 == "" { printf "FAIL %s:%d: not term<TAB>translation: %s\n", FILENAME, FNR, $0; bad = 1; next }
    {
        if (($1 in tr) && tr[$1] != $2 && file[$1] != FILENAME) {
            printf "FAIL %s:%d: \"%s\" -> \"%s\" conflicts with %s: \"%s\"\n", FILENAME, FNR, $1, $2, file[$1], tr[$1]
            bad = 1
        }
        tr[$1] = $2; file[$1] = FILENAME; n++
    }
    END { printf "%d glossary lines in %d files\n", n, ARGC - 1; exit bad }
' "$@" || status=1
exit $status
