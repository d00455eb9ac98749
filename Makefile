# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit soak bench clean fuzz chaos test-programs

PLUGINS := plugins/bots plugins/chatlog plugins/groups docs/example-plugin

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

## Start the embedded default: a 3-node cluster on loopback, IRC on 127.0.0.1:6667.
run: $(STAMP)
	$(BIN)/python -m twistedchat.devcluster

## Lint, type-check and run the whole test suite.
test: $(STAMP) test-programs lint typecheck
	$(BIN)/python -m pytest -q

## The Debian programs the end-to-end tests drive (irssi, WeeChat, chromium, ...), when missing.
test-programs:
	bash scripts/install-test-programs

lint: $(STAMP)
	$(BIN)/ruff check twistedchat tests benchmarks $(PLUGINS)
	$(BIN)/ruff format --check twistedchat tests benchmarks $(PLUGINS)

typecheck: $(STAMP)
	$(BIN)/mypy

## Many thousands of Raft simulation seeds (long).
soak: $(STAMP)
	SOAK_SEEDS=5000 $(BIN)/python -m pytest -q tests/raft -k simulation

## Benchmarks against baselines in the same run (figures go to docs/BENCHMARKS.md).
bench: $(STAMP)
	$(BIN)/pip install -q pysyncobj
	$(BIN)/pip install -q matplotlib
	command -v ngircd >/dev/null || (apt-get update -qq && apt-get install -y -qq ngircd)
	command -v inspircd >/dev/null || (apt-get update -qq && apt-get install -y -qq inspircd)
	$(BIN)/pip install -q miniircd
	rm -f benchmarks/results/*.json
	$(BIN)/python -m benchmarks.raft_commit
	$(BIN)/python -m benchmarks.storage_append
	$(BIN)/python -m benchmarks.irc_fanout
	$(BIN)/python -m benchmarks.connections
	$(BIN)/python -m benchmarks.failover
	$(BIN)/python -m benchmarks.login_storm
	$(BIN)/python -m benchmarks.irc_commit
	$(BIN)/python -m benchmarks.websocket_fanout
	$(BIN)/python -m benchmarks.report

clean:
	rm -rf $(VENV) chatnode-data

## Long hypothesis fuzzing of the network decoders (IRC lines, Raft frames, discovery datagrams).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest -q tests/fuzz

## Faults against a real 5-node cluster, checked (as root: partitions in a private netns;
## otherwise, or with CHAOS_ARGS=--no-netns, through a peer-link proxy).
CHAOS_DURATION ?= 1800
CHAOS_SEED ?= $(shell date +%s)
CHAOS_ARGS ?=
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.run --seed $(CHAOS_SEED) --duration $(CHAOS_DURATION) --nodes 5 --clients 5 $(CHAOS_ARGS)
