#!/bin/sh
# itx translate-text end to end with the dict provider: output, JSON, errors, exit codes.
set -u
fail=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; fail=1; fi
}
contains() { # contains NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) echo "ok   $1" ;; *) echo "FAIL $1: '$2' not in '$3'"; fail=1 ;; esac
}

out=$("$ITX_BIN" translate-text 包邮 "满199减30" "¥39.9")
check "plain output" "Free shipping
¥30 off orders over ¥199
¥39.9" "$out"

out=$("$ITX_BIN" translate-text --json 纯棉T恤 Nike)
check "json output" '[{"id":1,"source":"纯棉T恤","text":"100% cotton T-shirt","skip":null,"flags":[]},{"id":2,"source":"Nike","text":"Nike","skip":"latin_only","flags":[]}]' "$out"

g=$(mktemp)
printf '包邮\tshipping included\n小米\t=\n' > "$g"
out=$("$ITX_BIN" translate-text --glossary "$g" "小米包邮")
check "request glossary" "小米 shipping included" "$out"
rm -f "$g"

err=$("$ITX_BIN" translate-text --to fr 包邮 2>&1); rc=$?
check "dict to fr exit" 1 "$rc"
contains "dict to fr message" "use the gemini or openai provider" "$err"

err=$("$ITX_BIN" translate-text --provider deepl 包邮 2>&1); rc=$?
check "unknown provider exit" 2 "$rc"

err=$(ITX_MODELS_DIR=/nonexistent "$ITX_BIN" translate-text 包邮 2>&1); rc=$?
check "missing index exit" 1 "$rc"
contains "missing index message" "run 'scripts/setup.sh'" "$err"

err=$(env -u GEMINI_API_KEY "$ITX_BIN" translate-text --provider gemini 包邮 2>&1); rc=$?
check "gemini without key exit" 1 "$rc"
contains "gemini without key message" "GEMINI_API_KEY" "$err"

out=$(ITX_TRANSLATE_PROVIDER=gemini "$ITX_BIN" translate-text --provider dict 包邮 2>&1)
check "--provider beats the environment" "Free shipping" "$out"

exit $fail
