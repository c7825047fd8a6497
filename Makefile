# cardlib — one command to run the pipeline, one to pass the tests. Both install what they need
# on a fresh Debian machine (as root): the PC/SC stack with the virtual reader, a virtualenv, the package.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := pcscd vsmartcard-vpcd python3-virtualsmartcard python3-pycryptodome libpcsclite-dev swig softhsm2 chromium fonts-dejavu-core python3-venv python3-dev
# apt and pip write their output here; the terminal gets one line per step (and the log's tail on failure).
SETUP_LOG := setup.log
# One file from each package the pipeline and the tests use: when all are there, apt is not run.
NEEDED_FILES := /usr/sbin/pcscd /usr/lib/pcsc/drivers/serial/libifdvpcd.so /usr/lib/softhsm/libsofthsm2.so \
	/usr/bin/chromium /usr/bin/vicc /usr/lib/python3/dist-packages/Cryptodome

.PHONY: setup system venv demo test lint bench fuzz clean

system:
	@for needed in $(NEEDED_FILES); do \
		if [ ! -e $$needed ]; then \
			echo "setup: installing system packages: $(APT_PACKAGES) (apt output in $(SETUP_LOG))"; \
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				$(APT_PACKAGES); } >>$(SETUP_LOG) 2>&1 || { tail -n 20 $(SETUP_LOG); echo "setup: apt failed"; exit 1; }; \
			break; \
		fi; \
	done

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "setup: virtualenv in $(VENV), cardlib and its tools installed into it (pip output in $(SETUP_LOG))"
	@{ $(PY) -m venv $(VENV) && $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev]'; } \
		>>$(SETUP_LOG) 2>&1 || { tail -n 20 $(SETUP_LOG); echo "setup: pip failed"; exit 1; }
	@touch $@

setup: system venv

## The main job: personalize sample cards, put each on the virtual reader, read it over PC/SC, verify, report.
demo: setup
	$(BIN)/cardtool demo --out demo-out

## Everything CI checks: lint, types, the whole test suite.
test: setup lint
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check cardlib tools tests benchmarks
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks

## Long fuzzing of every decoder (not part of CI); new crashers are saved to tests/fuzz/corpus/.
fuzz: setup
	$(BIN)/pip install -q atheris
	$(BIN)/python -m benchmarks.fuzz --minutes 8

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache $(SETUP_LOG)
