# Makefile -- the two commands a newcomer needs (make run, make test) plus the usual helpers.
# Everything real lives in CMake; this file only installs dependencies and drives it.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build package run test test-secure test-threads test-asan test-tsan fuzz bench bench-threads availability bench-backup \
        eval-crossover bench-icbench bench-mget eval-latency bench-tls bench-cpu bench-idle-return clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# The AWS Lambda zips for provided.al2023: $(BUILD)/function-x86_64.zip and function-arm64.zip
# (docs/PACKAGING.md). ctest builds them too, as the fixture of the package_* tests.
package: deps
	@scripts/package.sh $(BUILD)

# Start icproxy with the embedded local function platform and its pool of cache nodes.
run: build
	@$(BUILD)/bin/icproxy $(ARGS)

# Every test: the normal build (with the Lambda packages' tests; icproxy at its default of one
# thread per core), the end-to-end suite again with TLS and a password on (and --threads 1), again
# with --threads 4, the same suite under ASan + UBSan, the threaded parts under ThreadSanitizer,
# then brief fuzzing.
test: build
	@cd $(BUILD) && ctest --no-tests=error --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-secure
	@$(MAKE) --no-print-directory test-threads
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory fuzz

# The black-box suites that go through icproxy, with every proxy serving TLS only (clients and
# nodes, certificates made for the run) and a password that every client sends. e2e_auth and
# e2e_tls set up their own users and certificates (and compare with a plaintext redis-server),
# so they run in the plain pass only. This pass also pins --threads 1 (one thread does it all,
# as before byte movers; TLS connections are never given to movers anyway).
SECURE_PASSWORD ?= ci-$(shell od -An -N8 -tx8 /dev/urandom | tr -d ' ')
E2E_SUITES = -L blackbox -R '^(e2e_|proxy_|client_iccli)'
test-secure: build
	@cd $(BUILD) && IC_TEST_TLS=1 IC_TEST_PASSWORD=$(SECURE_PASSWORD) IC_TEST_THREADS=1 ctest \
	  --no-tests=error --output-on-failure -j $(JOBS) $(E2E_SUITES) -E '^e2e_(auth|tls)$$'

# The end-to-end and fault suites with every icproxy at --threads 4 (three byte movers), whatever
# the machine's core count: the moved paths on a machine with fewer cores than threads.
test-threads: build
	@cd $(BUILD) && IC_TEST_THREADS=4 ctest --no-tests=error --output-on-failure -j $(JOBS) \
	  $(E2E_SUITES) -E '^e2e_bench_'

# The Lambda packages are built without sanitizers, so their tests run in the plain pass only.
# sim_validation_store compares billed GB-seconds with the model's to 5%: under ASan the slowed
# proxy and nodes bill extra cycles the model of an unslowed machine never sees (6% in one run),
# so it runs in the plain pass only; its code paths run under ASan in e2e_backing.
test-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DIC_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS) -- --no-print-directory
	@cd $(BUILD_ASAN) && ctest --no-tests=error --output-on-failure -j $(JOBS) -LE package \
	  -E '^sim_validation_store$$'

# The proxy's threads (the invoker, the backing store's client, the credential refresher, the
# mailbox between loops, the byte movers at --threads 4) and the platform's under
# ThreadSanitizer: its unit tests and the end-to-end suites that drive those threads; a reported race stops the process, which fails its
# test. The timing-bound fault suites stay in the plain and ASan passes: ThreadSanitizer slows
# the proxy past their deadlines.
TSAN_TESTS ?= ^(common_mailbox|common_ev|test_proxy_.*|proxy_.*|e2e_(redis|library|coalesce|strings|tx|backing|backing_behind|threads))$$
test-tsan: deps
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DIC_TSAN=ON >/dev/null
	@cmake --build $(BUILD_TSAN) -j $(JOBS) -- --no-print-directory
	@cd $(BUILD_TSAN) && IC_TEST_THREADS=4 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest \
	  --no-tests=error --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'

# Run every libFuzzer target briefly on its committed corpus (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 20
fuzz: deps
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DIC_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) -- --no-print-directory
	@scripts/run-fuzzers.sh $(BUILD_FUZZ)/fuzz $(FUZZ_SECONDS)

bench: build
	@bench/run-all.sh $(BUILD)

# What TLS costs (docs/BENCHMARKS.md): library 10 MiB GET/SET and redis-benchmark over TLS against
# plaintext, redis-server both ways as the baseline; then the same with nodes over TLS (~2 min).
bench-tls: build
	@/usr/bin/python3 bench/bench_tls.py --bin $(BUILD)/bin $(ARGS)
	@/usr/bin/python3 bench/bench_tls.py --bin $(BUILD)/bin --node-tls $(ARGS)

# Lifecycle experiments (docs/EVALUATION.md): availability under random reclaims without backup,
# with backup, with backup + repair (about 4 minutes); backup speed against a raw copy (~2 min).
availability: build
	@/usr/bin/python3 bench/availability.py --bin $(BUILD)/bin --json $(BUILD)/availability.json $(ARGS)

bench-backup: build
	@/usr/bin/python3 bench/bench_backup.py --bin $(BUILD)/bin --json $(BUILD)/bench-backup.json $(ARGS)

# The small-object crossover against ElastiCache (docs/EVALUATION.md, about 2 minutes).
eval-crossover: build
	@/usr/bin/python3 bench/eval_crossover.py --bin $(BUILD)/bin --json $(BUILD)/crossover.json $(ARGS)

# icproxy's CPU time per GB moved (10 MiB GET/SET, library and Redis protocol) and per 1,000
# small requests, beside redis-server and memcached -t 1 / -t 2 in the same run (docs/BENCHMARKS.md,
# ~3 min). ARGS=--proxy-arg=--threads=2 measures another proxy configuration; ARGS=--profile=DIR
# adds perf profiles of icproxy.
bench-cpu: build
	@/usr/bin/python3 bench/proxy_cpu.py --bin $(BUILD)/bin --json $(BUILD)/proxy-cpu.json $(ARGS)

# The scaling table: icproxy at --threads 1..nproc (10 MiB GETs, library and Redis protocol, by 8
# clients; 1 KiB SET/GET with redis-benchmark), beside redis-server (--io-threads N) and
# memcached -t N in the same run, each with its CPU share (docs/BENCHMARKS.md "Threads", ~9 min).
bench-threads: build
	@/usr/bin/python3 bench/threads.py --bin $(BUILD)/bin --json $(BUILD)/threads.json $(ARGS)

# Billed GB-s and GET p50/p99 at several --node-idle-return values, one fixed open-loop workload
# (docs/BENCHMARKS.md, ~4 min): what the default is chosen from.
bench-idle-return: build
	@/usr/bin/python3 bench/idle_return.py --bin $(BUILD)/bin --json $(BUILD)/idle-return.json $(ARGS)

# icbench's own speed against redis-benchmark and a raw recv loop (docs/EVALUATION.md, ~3 min).
bench-icbench: build
	@bench/bench_icbench.sh $(BUILD)

# MGET of 100 keys of 1 KiB through icproxy beside redis-server (docs/BENCHMARKS.md, ~1 min).
bench-mget: build
	@bench/bench_mget.sh $(BUILD)

# Latency experiments (docs/EVALUATION.md): latency vs object size for six RS codes, and first-d
# on vs off, through the library against a bandwidth-capped pool with stragglers (~5-10 min).
eval-latency: build
	@/usr/bin/python3 bench/eval_latency.py --bin $(BUILD)/bin --json $(BUILD)/eval-latency.json $(ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
