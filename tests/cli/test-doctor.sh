#!/usr/bin/env bash
# itx doctor: all green after set-up; with an empty models folder it names each missing file
# and the exact set-up command; a selected provider without its key is "missing" and the key
# is never printed; a bad database URL is "wrong" with its password hidden.
set -uo pipefail
: "${ITX_BIN:?}" "${ITX_MODELS_DIR:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { "$ITX_BIN" doctor "$@" >"$tmp/out" 2>&1; rc=$?; }
# A clean environment: the local store and SQLite under the temp dir, dictionary provider.
unset ITX_DATABASE_URL ITX_STORE ITX_TRANSLATE_PROVIDER GEMINI_API_KEY OPENAI_API_KEY
export ITX_STORE_DIR="$tmp/files"

# 1. After set-up: every check ok, exit 0.
run
[ "$rc" = 0 ] || fail "doctor after set-up exited $rc"
grep -q '^all checks passed$' out || fail "no 'all checks passed'"
for c in models dict fonts storage jobs provider; do
  grep -q "^ok  *$c " out || fail "check '$c' is not ok"
done
[ "$(grep -c '^ok  *models ' out)" = 4 ] || fail "expected 4 model files ok"
grep -q "Noto Sans CJK SC" out || fail "CJK font not checked"
[ -f "$tmp/files/itx-doctor/probe.txt" ] || fail "storage probe not written"
[ -f "$tmp/itx-jobs.db" ] || fail "SQLite job store not opened at its default"
grep -q "^ok  *jobs  *sqlite:$tmp/itx-jobs.db " out || fail "jobs check is not of serve's default database"
# The same database as itx serve from any working directory: next to the store's directory,
# never a new itx-jobs.db in the current one.
mkdir "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$ITX_BIN" doctor --only jobs >"$tmp/out2" 2>&1) || fail "doctor --only jobs from elsewhere failed: $(cat "$tmp/out2")"
[ ! -e "$tmp/elsewhere/itx-jobs.db" ] || fail "doctor made itx-jobs.db in the working directory"
grep -q "sqlite:$tmp/itx-jobs.db" "$tmp/out2" || fail "doctor from elsewhere checked another database: $(cat "$tmp/out2")"
# A second run finds the probe already there and is still ok.
run; [ "$rc" = 0 ] || fail "second run exited $rc"

# 2. Empty models folder: each file named missing with the exact command to run.
mkdir empty
ITX_MODELS_DIR="$tmp/empty" run
[ "$rc" = 1 ] || fail "empty models folder: exit $rc, expected 1"
for f in ch_PP-OCRv4_det_infer.onnx ch_PP-OCRv4_rec_infer.onnx ch_ppocr_mobile_v2.0_cls_infer.onnx ppocr_keys_v1.txt cedict.idx; do
  grep -q "^missing  *\(models\|dict\) *$tmp/empty/$f\$" out || fail "'$f' not reported missing"
done
[ "$(grep -c "fix: ITX_MODELS_DIR='$tmp/empty' scripts/setup.sh\$" out)" = 5 ] ||
  fail "fix command not named exactly for each missing file"
grep -q '^5 problem(s)' out || fail "problem count"
grep -q '^ok  *fonts ' out || fail "fonts should still be ok"

# 3. A corrupt model is "wrong" with both checksums.
mkdir bad && cp "$ITX_MODELS_DIR"/* bad/ && printf 'x' >> bad/ppocr_keys_v1.txt
ITX_MODELS_DIR="$tmp/bad" run --only models
[ "$rc" = 1 ] || fail "corrupt model: exit $rc"
grep -q '^wrong  *models .*ppocr_keys_v1.txt: sha256 [0-9a-f]\{64\}, expected [0-9a-f]\{64\}' out ||
  fail "corrupt model not reported wrong"

# 4. Provider gemini without a key: missing; with a key: ok, and the key never appears.
ITX_TRANSLATE_PROVIDER=gemini run --only provider
[ "$rc" = 1 ] && grep -q '^missing  *provider  *gemini: GEMINI_API_KEY is not set' out ||
  fail "gemini without key not reported"
grep -q 'fix: export GEMINI_API_KEY=' out || fail "gemini fix missing"
ITX_TRANSLATE_PROVIDER=gemini GEMINI_API_KEY=sekrit-key-123 run --only provider
[ "$rc" = 0 ] || fail "gemini with key: exit $rc"
grep -q sekrit out && fail "the API key was printed"
ITX_TRANSLATE_PROVIDER=klingon run --only provider
[ "$rc" = 1 ] && grep -q "^wrong  *provider .*ITX_TRANSLATE_PROVIDER is 'klingon'" out ||
  fail "unknown provider not reported wrong"

# 5. Job store: an unreachable PostgreSQL is wrong, password hidden.
ITX_DATABASE_URL='postgresql://itx:pw-secret@127.0.0.1:1/itx?connect_timeout=2' run --only jobs
[ "$rc" = 1 ] && grep -q '^wrong  *jobs  *postgresql://itx:\*\*\*@127.0.0.1:1/itx' out ||
  fail "unreachable postgres not reported wrong"
grep -q pw-secret out && fail "the database password was printed"
ITX_DATABASE_URL='postgresql://itx@127.0.0.1:1/itx?password=kw-secret&connect_timeout=2' run --only jobs
[ "$rc" = 1 ] && grep -q 'password=\*\*\*&connect_timeout=2' out || fail "password parameter not hidden"
grep -q kw-secret out && fail "the password parameter was printed"

# 6. Storage: a store folder that cannot be created is wrong, with the mkdir fix.
touch notadir
ITX_STORE_DIR="$tmp/notadir/files" run --only storage
[ "$rc" = 1 ] && grep -q "^wrong  *storage  *local '$tmp/notadir/files'" out ||
  fail "unwritable store not reported wrong"
grep -q "fix: mkdir -p '$tmp/notadir/files'" out || fail "storage fix missing"

# 7. Usage errors.
run --only nonsense; [ "$rc" = 2 ] || fail "unknown check: exit $rc"
run --bogus; [ "$rc" = 2 ] || fail "unknown option: exit $rc"

if [ "$fails" != 0 ]; then echo "--- last output"; cat out; exit 1; fi
echo "test-doctor: all passed"
