# pyfrr-pwr: `make demo` runs the main job, `make test` installs everything
# and runs every test. Both work from a fresh clone as root on Debian 12.
PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all deps install test demo bench topologies clean

all: test

# System packages, installed only when missing: a C compiler with the
# sanitizer runtimes (the C core and its ASan/UBSan test), FRR with its
# Python tools (the integration tests run real ospfd), iproute2 (ip netns),
# ping (reachability through a lab).
APT_NEED = $(shell command -v cc >/dev/null && echo 'int main(void){return 0;}' | cc -fsanitize=address,undefined -x c - -o /tmp/.pyfrr-pwr-cc-check 2>/dev/null || echo build-essential; \
             test -x /usr/lib/frr/ospfd || echo frr; test -f /usr/lib/frr/ospfclient.py || echo frr-pythontools; \
             command -v ip >/dev/null || echo iproute2; command -v ping >/dev/null || echo iputils-ping; \
             rm -f /tmp/.pyfrr-pwr-cc-check)

deps:
	@if [ -n "$(strip $(APT_NEED))" ]; then \
	  echo "installing: $(APT_NEED)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_NEED); \
	fi

$(STAMP): pyproject.toml setup.py pyfrr_pwr/_build_core.py csrc/*.c csrc/*.h
	$(MAKE) deps
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test,bench]'
	touch $@

install: $(STAMP)

test: install
	$(VPY) -m pytest

LAB := $(VENV)/bin/pyfrr-pwr lab
DEMO := containerlab/fig-2-1-7.clab.yml

# Offline: the draft's sec. 2.1.7 area from its files. Then live: the same
# area on real FRR in namespaces, agents flooding PWR LSAs, the path asked
# of B's agent, and the lab taken down again.
demo: install deps
	$(VENV)/bin/pyfrr-pwr metric $(DEMO)
	$(VENV)/bin/pyfrr-pwr paths $(DEMO) --from B --to X -k 4
	$(LAB) down $(DEMO) >/dev/null
	$(LAB) up $(DEMO) --wait
	@sleep 3
	$(LAB) status $(DEMO)
	$(LAB) exec $(DEMO) X -- $(abspath $(VENV))/bin/pyfrr-pwr show ted --socket /run/pyfrr-pwr/fig-2-1-7/X/agent.sock
	$(LAB) exec $(DEMO) B -- $(abspath $(VENV))/bin/pyfrr-pwr show paths --to 10.17.255.8 -k 3 --socket /run/pyfrr-pwr/fig-2-1-7/B/agent.sock
	$(LAB) down $(DEMO)

bench: install
	$(VPY) -m pytest bench -q --benchmark-only --benchmark-json=bench/results.json
	$(VPY) bench/summarize.py bench/results.json

topologies: install
	$(VPY) tools/gen_topologies.py

clean:
	rm -rf $(VENV) build *.egg-info pyfrr_pwr/_core*.so pyfrr_pwr/_core.c .pytest_cache .hypothesis
