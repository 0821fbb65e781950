# pyfrr-pwr: `make demo` runs the main job, `make test` installs everything
# and runs every test. Both work from a fresh clone as root on Debian 12.
PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all deps install lint test demo bench topologies clean

all: test

# System packages, installed only when missing: a C compiler with the
# sanitizer runtimes (the C core and its ASan/UBSan test), FRR with its
# Python tools (the integration tests run real ospfd), iproute2 (ip netns),
# ping (reachability through a lab), nftables (the labs' API firewall),
# openssl (the Redfish HTTPS test's certificate),
# python3-venv (Debian's python3 lacks it).
APT_NEED = $(shell $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv; \
             command -v cc >/dev/null && echo 'int main(void){return 0;}' | cc -fsanitize=address,undefined -x c - -o /tmp/.pyfrr-pwr-cc-check 2>/dev/null || echo build-essential; \
             test -x /usr/lib/frr/ospfd || echo frr; test -f /usr/lib/frr/ospfclient.py || echo frr-pythontools; \
             command -v ip >/dev/null || echo iproute2; command -v ping >/dev/null || echo iputils-ping; \
             command -v nft >/dev/null || echo nftables; command -v openssl >/dev/null || echo openssl; \
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

# ruff, as configured in pyproject.toml (pinned in the test extra)
LINTED := pyfrr_pwr tests bench tools

lint: install
	$(VPY) -m ruff check $(LINTED)
	$(VPY) -m ruff format --check $(LINTED)

# every test, the FRR ones (marker frr: root, FRR, network namespaces)
# included; `$(VPY) -m pytest -m "not frr"` runs the rest anywhere
test: install lint
	$(VPY) -m pytest

LAB := $(VENV)/bin/pyfrr-pwr lab
FIG7 := containerlab/fig-2-1-7.clab.yml
FIG20 := containerlab/fig-2-0.clab.yml

# The main job. Offline, the draft's sec. 2.1.7 area from its files. Then
# live, figure 2.0 of sec. 2.2 on real FRR in network namespaces: 23 routers,
# an agent beside every ospfd, ABRs leaking reachability vectors, and every
# head-end asked for its path to every tail-end; then the lab goes down.
demo: install deps
	$(VENV)/bin/pyfrr-pwr paths $(FIG7) --from B --to X -k 3
	$(LAB) down $(FIG20) >/dev/null
	$(LAB) up $(FIG20) --wait --timeout 120
	$(LAB) paths $(FIG20) --timeout 90; rc=$$?; $(LAB) down $(FIG20); exit $$rc

bench: install
	$(VPY) -m pytest bench -q --benchmark-only --benchmark-json=bench/results.json
	$(VPY) bench/summarize.py bench/results.json

topologies: install
	$(VPY) tools/gen_topologies.py

clean:
	rm -rf $(VENV) build dist *.egg-info pyfrr_pwr/_core*.so pyfrr_pwr/_core.c .pytest_cache .hypothesis .ruff_cache
