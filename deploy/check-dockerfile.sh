#!/usr/bin/env bash
# Static checks of deploy/Dockerfile (no Docker engine runs here) and an estimate of the
# runtime image size. Run from anywhere after scripts/setup.sh and a release build:
#   deploy/check-dockerfile.sh [path/to/itx]        (default build/release/itx)
# Checks: the two stages and their bases; the build stage runs scripts/setup.sh (non-dev),
# the release preset and `itx models verify`; the runtime stage runs as a non-root user, sets
# OMP_WAIT_POLICY=passive, has an exec-form ENTRYPOINT/CMD of `itx serve`, a HEALTHCHECK on
# /healthz without curl or wget; every COPY source exists in the repository or is made by the
# build stage (the font copy is replayed here against this machine's files); every shared
# library itx needs is provided by the runtime packages or their dependencies.
# Estimate: file sizes of what apt would add to bookworm-slim for the runtime packages
# (apt-get -s against a status file holding only the base system, docs/man/locale left out
# as the slim image's dpkg excludes them) + fonts + models + binary + the base itself.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DF="$REPO/deploy/Dockerfile"
ITX=${1:-$REPO/build/release/itx}
MODELS=${ITX_MODELS_DIR:-$REPO/models}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok:   $*"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Join continuation lines so each instruction is one line; split the stages.
sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$DF" | grep -v '^\s*#' | grep -v '^\s*$' > "$tmp/df"
awk '/^FROM /{n++} {print > ("'"$tmp"'/stage" n)}' "$tmp/df"
[ "$(grep -c '^FROM ' "$tmp/df")" = 2 ] || fail "expected exactly two stages"
grep -q '^FROM debian:bookworm AS build$' "$tmp/stage1" && ok "build stage on debian:bookworm" ||
  fail "first stage must be 'FROM debian:bookworm AS build'"
grep -q '^FROM debian:bookworm-slim' "$tmp/stage2" && ok "runtime stage on debian:bookworm-slim" ||
  fail "last stage must be debian:bookworm-slim"

b="$tmp/stage1"; r="$tmp/stage2"
grep -qE '^RUN .*scripts/setup\.sh( |$)' "$b" && ! grep -q 'setup\.sh --dev' "$b" &&
  ok "build stage runs scripts/setup.sh (non-dev), as CI does" || fail "build stage must run scripts/setup.sh without --dev"
grep -q 'cmake --preset release' "$b" && ok "release preset" || fail "build stage must use the release preset"
grep -q 'itx models verify' "$b" && ok "models verified during the build" || fail "no 'itx models verify' in the build stage"
grep -qE 'itx"?,? *"?doctor' "$b" && grep -q 'dict' "$b" && ok "dictionary index and fonts verified during the build" ||
  fail "no 'itx doctor --only models,dict,fonts' in the build stage"
grep -qE 'models verify|setup\.sh|npm ' "$r" && fail "runtime stage installs or verifies models at run time"

user=$(grep '^USER ' "$r" | tail -1 | awk '{print $2}')
case "${user%%:*}" in
  ''|root|0) fail "runtime stage must end with a non-root USER (got '${user}')" ;;
  *) ok "runs as non-root user '$user'" ;;
esac
grep -q 'useradd .*--system' "$r" && ok "user created" || fail "runtime user is never created"
grep -qE '^ENV .*OMP_WAIT_POLICY=passive' "$r" && ok "OMP_WAIT_POLICY=passive" || fail "ENV OMP_WAIT_POLICY=passive missing"
ep=$(grep '^ENTRYPOINT ' "$r" | tail -1); cmd=$(grep '^CMD ' "$r" | tail -1)
[[ "$ep" == 'ENTRYPOINT ["/usr/local/bin/itx"]' && "$cmd" == 'CMD ["serve"]' ]] &&
  ok "itx serve is PID 1 (exec-form ENTRYPOINT + CMD)" || fail "ENTRYPOINT/CMD must be exec form running itx serve (got '$ep' '$cmd')"
hc=$(grep '^HEALTHCHECK ' "$r" || true)
if [ -z "$hc" ]; then fail "no HEALTHCHECK"
else
  [[ "$hc" == *'/healthz'* ]] || fail "HEALTHCHECK does not call /healthz"
  [[ "$hc" == *'CMD ["'* ]] || fail "HEALTHCHECK should use the exec form"
  echo "$hc" | grep -qE 'curl|wget' && fail "HEALTHCHECK uses curl/wget, which the image lacks"
  ok "HEALTHCHECK on /healthz via bash /dev/tcp"
fi
grep -qE 'apt-get install.* (curl|wget)( |$)' "$r" && fail "runtime stage installs curl/wget"

# COPY sources.
while read -r line; do
  set -- $line; shift
  from=""; [[ "$1" == --from=* ]] && { from=${1#--from=}; shift; }
  srcs=("$@"); unset 'srcs[${#srcs[@]}-1]'
  for s in "${srcs[@]}"; do
    if [ -z "$from" ]; then
      [ "$s" = . ] || [ -e "$REPO/$s" ] && ok "COPY $s exists in the repository" || fail "COPY source '$s' is not in the repository"
    else
      p=${s%/}
      grep -v '^COPY ' "$b" | grep -qF "$p" && ok "COPY --from=$from $s is made by the build stage" ||
        fail "COPY --from=$from source '$s' is not made by the build stage"
    fi
  done
done < <(grep '^COPY ' "$tmp/df")
# Replay the build stage's font copy against this machine (same packages via setup.sh).
fontrun=$(grep '^RUN install -d /opt/itx/fonts' "$b" | sed 's/^RUN //')
if bash -c "${fontrun//\/opt\/itx\/fonts/$tmp/fonts}" 2>"$tmp/font.err"; then
  ok "font files copied by the build stage exist ($(ls "$tmp/fonts" | wc -l) files)"
else fail "font copy of the build stage fails here: $(head -1 "$tmp/font.err")"; fi

# Runtime packages cover every library itx needs.
pkgs=$(grep -o 'apt-get install [^&]*' "$r" | tr ' ' '\n' | grep -vE '^(apt-get|install|-.*|)$')
status="$tmp/base-status"
/usr/bin/python3 - "$status" <<'PY'
import re, sys
paras = [p for p in open('/var/lib/dpkg/status').read().split('\n\n') if p.strip()]
by = {re.search(r'^Package: (\S+)', p, re.M).group(1): p for p in paras}
keep = {n for n, p in by.items() if re.search(r'^(Priority: required|Essential: yes)$', p, re.M)}
grew = True
while grew:
    grew = False
    for n in list(keep):
        for f in re.findall(r'^(?:Pre-)?Depends: (.*)$', by[n], re.M):
            for alt in f.split(','):
                names = [a.strip().split(' ')[0].split(':')[0] for a in alt.split('|')]
                if any(x in keep for x in names):
                    continue
                for x in names:
                    if x in by:
                        keep.add(x); grew = True; break
open(sys.argv[1], 'w').write('\n\n'.join(by[n] for n in sorted(keep)) + '\n\n')
PY
base_pkgs=$(grep -oP '^Package: \K\S+' "$status")
apt-get -s -o Dir::State::status="$status" install --no-install-recommends $pkgs 2>"$tmp/apt.err" |
  awk '/^Inst /{print $2}' > "$tmp/inst"
[ -s "$tmp/inst" ] || fail "apt cannot resolve the runtime packages: $(tail -1 "$tmp/apt.err")"
if [ -x "$ITX" ]; then
  # The whole closure (ldd), so the NEEDED libraries of libvips.so.42 are checked too.
  while read -r lib path; do
    # sanitizer runtimes appear only in asan/tsan test builds, never in the image's release build
    case "$lib" in libasan.so*|libubsan.so*|libtsan.so*|liblsan.so*) continue ;; esac
    owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$owner" ] || owner=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)
    if grep -qx "$owner" "$tmp/inst" || grep -qx "$owner" <<<"$base_pkgs"; then :; else
      fail "library $lib (package '$owner') is not in the runtime image"; fi
  done < <(ldd "$ITX" | awk '$2=="=>" && $3 ~ /^\//{print $1, $3}')
  ok "every library in the ldd closure of $(basename "$ITX") comes from the runtime packages or the base"
else fail "no itx binary at '$ITX' (build the release preset first)"; fi

# Size estimate (MB = 2^20 bytes).
files_mb() { # package... -> MB of their files, docs/man/locale excluded
  for p in "$@"; do dpkg -L "$p" 2>/dev/null; done |
    grep -vE '^/usr/share/(doc|man|locale|info|lintian|groff|linda)/' | sort -u |
    while read -r f; do if [ -f "$f" ] && [ ! -L "$f" ]; then echo "$f"; fi; done |
    xargs -r -d '\n' stat -c %s | awk '{s+=$1} END{printf "%.1f", s/1048576}'
}
missing=$(for p in $(cat "$tmp/inst"); do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
[ -z "$missing" ] || echo "note: not installed here, estimated from apt-cache Installed-Size: $missing"
extra=0; for p in $missing; do
  k=$(apt-cache show "$p" | awk '/^Installed-Size/{print $2; exit}'); extra=$((extra + ${k:-0})); done
base=$(files_mb $base_pkgs)
libs=$(files_mb $(cat "$tmp/inst"))
libs=$(awk -v a="$libs" -v k="$extra" 'BEGIN{printf "%.1f", a + k/1024}')
fonts=$(du -sb "$tmp/fonts" 2>/dev/null | awk '{printf "%.1f", $1/1048576}')
models=$(cd "$MODELS" && du -cb $(sed 's/^[0-9a-f]*  //' "$REPO/scripts/models.sha256") cedict.idx 2>/dev/null |
  tail -1 | awk '{printf "%.1f", $1/1048576}')
bin=$( [ -x "$ITX" ] && stat -c %s "$ITX" | awk '{printf "%.1f", $1/1048576}' || echo 0)
total=$(awk -v a="$base" -v b="$libs" -v c="${fonts:-0}" -v d="$models" -v e="$bin" 'BEGIN{printf "%.0f", a+b+c+d+e}')
echo
echo "runtime image estimate (MB):"
printf '  %-58s %7s\n' "base system (Priority required + dependencies)" "$base" \
  "runtime packages apt adds ($(wc -l < "$tmp/inst") packages)" "$libs" \
  "fonts (Noto Sans CJK Regular+Bold TTC, Noto Sans subset)" "${fonts:-0}" \
  "models + cedict.idx" "$models" "itx binary" "$bin" "total" "$total"
echo "  largest added packages (installed size, KB):"
dpkg-query -W -f '${Installed-Size} ${Package}\n' $(cat "$tmp/inst") 2>/dev/null | sort -rn | head -8 | sed 's/^/    /'
[ "$total" -lt 250 ] && ok "estimate ${total} MB is under the 250 MB target" ||
  echo "WARN: estimate ${total} MB is over the 250 MB target (see docs/deploy.md)"
[ "$fails" = 0 ] && echo "check-dockerfile: all checks passed" || { echo "check-dockerfile: $fails failure(s)"; exit 1; }
