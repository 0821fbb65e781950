# pyfrr-pwr: `make demo` runs the main job, `make test` installs everything
# and runs every test. Both work from a fresh clone as root on Debian 12.
PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all deps install test demo bench topologies clean

all: test

# System packages: a C compiler with the sanitizer runtimes (the C core and
# its ASan/UBSan test). Installed only when missing.
deps:
	@command -v cc >/dev/null && echo 'int main(void){return 0;}' | cc -fsanitize=address,undefined -x c - -o /tmp/.pyfrr-pwr-cc-check 2>/dev/null \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential; }
	@rm -f /tmp/.pyfrr-pwr-cc-check

$(STAMP): pyproject.toml setup.py pyfrr_pwr/_build_core.py csrc/*.c csrc/*.h
	$(MAKE) deps
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test,bench]'
	touch $@

install: $(STAMP)

test: install
	$(VPY) -m pytest

demo: install
	$(VENV)/bin/pyfrr-pwr metric containerlab/fig-2-1-7.clab.yml
	$(VENV)/bin/pyfrr-pwr paths containerlab/fig-2-1-7.clab.yml --from B --to X -k 4

bench: install
	$(VPY) -m pytest bench -q --benchmark-only --benchmark-json=bench/results.json
	$(VPY) bench/summarize.py bench/results.json

topologies: install
	$(VPY) tools/gen_topologies.py

clean:
	rm -rf $(VENV) build *.egg-info pyfrr_pwr/_core*.so pyfrr_pwr/_core.c .pytest_cache .hypothesis
