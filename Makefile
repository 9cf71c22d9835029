# One command to run the app and one to run every test; each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint package package-test package-bench system-packages-run system-packages-test clean

run: system-packages-run $(VENV)/.installed
	$(BIN)/handshake-doctor

test: system-packages-test $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Standalone builds (PyInstaller does not cross-compile: Windows and macOS build in CI on their own
# runners, see packaging/README.md).
# A build newer than everything it is made of is reused (dist/.packaged marks a finished one).
PACKAGE_INPUTS := pyproject.toml $(shell git ls-files checks gui resources packaging 2>/dev/null)

package: dist/.packaged

dist/.packaged: $(PACKAGE_INPUTS) | system-packages-test $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,packaging]'
	PYTHON=$(BIN)/python packaging/build.sh
	packaging/linux/build-deb.sh
	packaging/linux/build-rpm.sh
	touch $@

# They write only under build/ and dist/: checking leaves the tree as it was.
package-test: dist/.packaged
	PYTHON=$(BIN)/python packaging/test-frozen.sh
	PYTHON=$(BIN)/python packaging/linux/test-deb.sh
	PYTHON=$(BIN)/python packaging/linux/test-rpm.sh

package-bench: dist/.packaged
	$(BIN)/python packaging/bench_package.py

system-packages-run:
	@packaging/install-system-packages.sh run

system-packages-test:
	@packaging/install-system-packages.sh test

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
