# Warden: the two commands a fresh machine needs are `make demo` and `make test`.
#
# Everything builds once, in the release profile, and tests share that build
# (candle is unusably slow unoptimised). Tests and CI run on one thread: a
# 2-thread run collapses when the other core is busy (shared/MEASURED.md).

CARGO ?= cargo
WARDEN := target/release/warden
DEMO_HOME ?= .warden
# The demo unlocks its keyring with a key file kept outside the home. A real
# install uses a passphrase (WARDEN_PASSPHRASE or a prompt) or a key file on
# another medium: whoever holds the key file can read the store.
DEMO_KEY ?= .warden-demo.key
QUESTION ?= How many days of paid annual leave does a full-time employee get, and how many unused days can be carried over?

.PHONY: demo models clients build test lint bench peers clean-demo

# Real OpenAI and LangChain clients for the HTTP API tests, pinned.
PY_VENV := target/py-venv

models:
	python3 scripts/fetch-models

$(PY_VENV)/.installed: tests/clients/requirements.txt
	python3 -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	touch $@

clients: $(PY_VENV)/.installed

build:
	$(CARGO) build --release --locked

## demo: fetch and verify the models, build, create an encrypted store, ingest knowledge/, open the chat UI (or answer one question when not on a terminal).
demo: models build
	@if [ ! -f $(DEMO_HOME)/keyring/keyring.json ]; then \
		rm -rf $(DEMO_HOME)/store; \
		$(WARDEN) --home $(DEMO_HOME) --key-file $(DEMO_KEY) init; \
	fi
	$(WARDEN) --home $(DEMO_HOME) --key-file $(DEMO_KEY) ingest knowledge
	@# On a terminal the chat UI opens; in a script one question is answered.
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(WARDEN) --home $(DEMO_HOME) --key-file $(DEMO_KEY) chat; \
	else \
		$(WARDEN) --home $(DEMO_HOME) --key-file $(DEMO_KEY) ask "$(QUESTION)"; \
	fi

## test: fetch and verify the models and the API clients, then run the whole test suite (real models).
test: models clients
	RAYON_NUM_THREADS=1 WARDEN_THREADS=1 $(CARGO) test --release --locked -- --test-threads=2

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets --locked -- -D warnings

## bench: criterion benchmarks (prompt, generation, TTFT, embeddings, search, memory).
bench: models
	bash scripts/fetch-bench-corpus
	$(CARGO) bench --locked --bench warden

## peers: llama.cpp and sentence-transformers measured on the same inputs.
peers: models
	bash benches/peers/build-llama-cpp.sh
	bash benches/peers/llama-bench.sh SmolLM2-135M-Instruct.Q4_1.gguf --save
	bash benches/peers/llama-bench.sh qwen2.5-coder-0.5b-instruct-q4_k_m.gguf --save
	bash benches/peers/llama-bench.sh gemma-3-270m-q4_k_m.gguf --save
	@# The optional larger model, when installed (scripts/fetch-models qwen2.5-coder-1.5b).
	if [ -f models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf ]; then \
		bash benches/peers/llama-bench.sh qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --save; fi
	bash benches/peers/llama-load-time.sh --save
	target/peers/venv/bin/python benches/peers/sentence-transformers-bench.py

clean-demo:
	rm -rf $(DEMO_HOME) $(DEMO_KEY)
