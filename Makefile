# Front door for people and CI. Every target runs the set-up script first (fast when all is
# installed), so a fresh Debian 12 clone needs nothing else.
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: setup setup-dev build build-dev run test test-asan test-tsan fuzz clean \
        bench-nn bench-dict bench-ocr bench-quality bench-e2e bench-load bench-coldstart \
        bench-soak bench-image

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

build: setup
	cmake --preset release >/dev/null
	cmake --build build/release -j $(JOBS)

build-dev: setup-dev
	cmake --preset dev >/dev/null
	cmake --build build/dev -j $(JOBS)

# Set up, build and run itx on its embedded defaults.
run: build
	scripts/run.sh build/release

# Set up and run every test (unit, integration, golden, fuzz corpus replay).
test: build-dev
	cd build/dev && ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

test-asan: setup-dev
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 ITX_TEST_TIME_SCALE=2 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

# ThreadSanitizer over the whole suite (docs/hardening.md). Under TSan tests run many times
# slower, and ctest's --timeout does not override the TIMEOUT each test sets, so the generated
# test files are given TSAN_TIMEOUT seconds per test after the build.
# suppress_equal_addresses=0: TSan's de-duplication by address keeps a list of every report it
# has seen, suppressed ones included, and checks each new report against all of them, which
# stalled libvips's codec copies (test_image and itx-testset ran for over 10 minutes); with
# halt_on_error=1 it hides nothing worth having.
# G_SLICE=always-malloc: GLib's slice allocator (GLib < 2.76) recycles memory without malloc
# and free, so TSan took a region libvips handed to itx-testset's main thread, in memory a
# finished vips worker had used for something else, for a race in src/image/vips-bridge.c.
# ITX_TEST_TIME_SCALE (here and in test-asan): the server tests' hang bounds, deadlines and
# provider holds are multiplied by it (tests/server/proc.h), as the sanitizer builds run slower.
TSAN_TIMEOUT ?= 1800
test-tsan: setup-dev
	cmake --preset tsan >/dev/null
	cmake --build build/tsan -j $(JOBS)
	find build/tsan -name CTestTestfile.cmake -exec \
	  sed -i -E 's/ TIMEOUT "[0-9]+"/ TIMEOUT "$(TSAN_TIMEOUT)"/' {} +
	cd build/tsan && G_SLICE=always-malloc ITX_TEST_TIME_SCALE=5 \
	  TSAN_OPTIONS=suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1:suppress_equal_addresses=0 \
	  ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

fuzz: setup-dev
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz -j $(JOBS)

bench-nn: build setup-dev
	node bench/bench-nn.mjs build/release/itx

# itx ocr against @gutenye/ocr-node and tools/ref-ocr on the same pictures and thread count
# (last line: RESULT ratio=<itx/@gutenye median> itx_rss_mb=<peak>).
bench-ocr: build setup-dev
	node bench/bench-ocr.mjs build/release/itx

# Dictionary translation quality on bench/dict/phrases.tsv (last line: RESULT accepted=.. chrf=..).
bench-dict: build
	node bench/bench-dict.mjs build/release/itx

# itx translate on synthetic pictures, read back by itx ocr (last line: RESULT han_left=..
# en_readback=.. mae_flat=..).
bench-quality: build setup-dev
	node bench/bench-quality.mjs build/release/itx

# Per-stage time of itx translate (dict, local files) (last line: RESULT e2e_ms=.. render_share=..).
bench-e2e: build
	node bench/bench-e2e.mjs build/release/itx

# itx serve under load over loopback: POST /v1/translate at concurrency 32, dict provider,
# synthetic pictures (last line: RESULT rps=.. p99_ms=.. errors_5xx=.. peak_rss_mb=.. rss_growth=..).
bench-load: build
	node bench/bench-load.mjs build/release/itx build/release/tools/testset/itx-testset
# itx serve from exec to the first 200 from /readyz, median of 10 (last line: RESULT ready_ms=..).
bench-coldstart: build
	node bench/bench-coldstart.mjs build/release/itx
# itx serve for ITX_SOAK_S seconds (600) under mixed valid and invalid load: RSS, fds and threads
# over time (last line: RESULT rss_growth=<share> fd_growth=<n> errors_5xx=<n>).
bench-soak: build
	node bench/bench-soak.mjs build/release/itx build/release/tools/testset/itx-testset
# itx's decode -> half-size resize -> encode against sharp (libvips) on the same pictures
# (last line: RESULT itx_ms=.. sharp_ms=.. ratio=..).
bench-image: build setup-dev
	node bench/bench-image.mjs build/release

clean:
	rm -rf build
