# kapcheck: `make demo` and `make test` work on a fresh clone (they create .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# Re-install when the project's metadata changes.
STAMP := $(VENV)/.installed
EXAMPLE ?= examples/riverside.yaml

.PHONY: demo test test-long fuzz install browser bench memcheck lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	PYTHONWARNINGS=ignore $(PIP) install --quiet -e '.[test,docs]'
	@# Bytecode, as a wheel's install leaves: with PYTHONDONTWRITEBYTECODE set, an
	@# editable install would compile every module from source on every run (0.1-0.2 s).
	$(BIN)/python -m compileall -q protocol rules cli >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo "== kapcheck validate $(EXAMPLE)"
	@$(BIN)/kapcheck validate $(EXAMPLE) --as-of 2026-03-01; \
	  echo "(exit code $$?: 0 compliant, 1 errors found, 2 unusable input)"
	@echo
	@echo "== the same, as JSON (first lines)"
	@$(BIN)/kapcheck validate $(EXAMPLE) --as-of 2026-03-01 --format json | head -n 25

# Every test; the generated (Hypothesis) ones with a budget that keeps this fast. Then
# the documentation site, strictly: a broken link or a page out of the nav fails.
test: $(STAMP)
	KAPCHECK_EXAMPLES=$${KAPCHECK_EXAMPLES:-120} KAPCHECK_FUZZ_EXAMPLES=$${KAPCHECK_FUZZ_EXAMPLES:-150} \
	  $(BIN)/python -m pytest -q
	$(BIN)/kapcheck test features/ --format junit --output .kapcheck-features.xml
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The documentation: regenerate the pages that come from the code, build the site
# into .site/ (open .site/index.html).
docs: $(STAMP)
	$(BIN)/python docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "kapcheck: the site is in .site/ (open .site/index.html)"

# The same tests with the full budget: 500 generated schedules per rule.
test-long: $(STAMP)
	KAPCHECK_EXAMPLES=500 KAPCHECK_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest -q

# Mutation fuzzing of every input kind with a long budget (tests/fuzz).
fuzz: $(STAMP)
	KAPCHECK_FUZZ_EXAMPLES=$${KAPCHECK_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest -q tests/fuzz

# The report's browser test uses Debian's Chromium. `make test` never installs system
# packages: .ci/run calls this first (root with apt-get); elsewhere that one test is
# skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "chromium not installed: the browser test will be skipped"; }

bench: $(STAMP)
	$(BIN)/python bench/run.py --sizes 10000 100000 --repeat 3

# durable_rules' memory errors under valgrind (apt-get install valgrind).
memcheck: $(STAMP)
	PYTHONMALLOC=malloc valgrind --error-limit=no $(BIN)/python bench/memcheck.py 40 2>&1 \
	  | grep -A3 -E "Invalid|uninitialised" | grep -c durable_rules_engine || true

# mypy reads the packages through a tree of links shaped like the installed namespace.
lint: $(STAMP)
	$(PIP) install --quiet -e '.[test,lint]' types-PyYAML
	$(BIN)/ruff check protocol rules cli tests bench docs
	rm -rf .mypy-src && mkdir -p .mypy-src/kapcheck
	for d in protocol rules cli; do ln -s ../../$$d .mypy-src/kapcheck/$$d; done
	cd .mypy-src && ../$(BIN)/mypy --config-file ../pyproject.toml --namespace-packages \
	  --explicit-package-bases -p kapcheck.protocol -p kapcheck.rules -p kapcheck.cli

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .site
