# Edge Coverage Planner. `make demo` runs the planner on the embedded GeoNames data;
# `make test` runs the whole test suite. Both create .venv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
COUNTRY ?= US
OUT    ?= out/demo-$(COUNTRY)
# Headless browser for tests/test_browser.py: Debian's chromium and its chromedriver.
CHROMEDRIVER := /usr/bin/chromedriver
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Test processes (pytest-xdist): CI has 2 cores. Whole test files go to one process, so a
# file's module fixtures are built once; TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= 2

.PHONY: install browser demo test lint bench sample-data clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Installs the browser once (apt, from the Debian archive; never a browser download). A file
# target, so the step is skipped when /usr/bin/chromedriver already exists.
browser: $(CHROMEDRIVER)

$(CHROMEDRIVER):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium chromium-driver

demo: $(STAMP)
	$(BIN)/edge-coverage plan --demo --country $(COUNTRY) --budget-ms 30 --access ftth --out $(OUT)

test: $(STAMP) $(CHROMEDRIVER)
	EDGE_COVERAGE_BROWSER_TESTS=required $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py --out docs/benchmarks.md
	$(BIN)/python bench/scale.py --out docs/benchmarks-scale.md
	$(BIN)/python bench/map_scale.py --out docs/benchmarks-map.md
	$(BIN)/python bench/batch_scale.py --out docs/benchmarks-batch.md
	$(BIN)/python bench/calibration.py --out docs/benchmarks-latency.md
	$(BIN)/python bench/routing.py --out docs/benchmarks-routing.md
	$(BIN)/python bench/capacity.py --out docs/benchmarks-capacity.md
	$(BIN)/python bench/domains.py --out docs/benchmarks-domains.md
	$(BIN)/python bench/compare.py --out docs/benchmarks-compare.md

sample-data: $(STAMP)
	$(BIN)/python scripts/make_sample_data.py --out data

clean:
	rm -rf $(VENV) out .pytest_cache
