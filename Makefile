# dac-map — two commands on a fresh machine:
#   make run    install (virtualenv in .venv), build the demo GeoPackage if missing, start the app
#   make test   install, then run the whole test suite (unit, property, AppTest, browser)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test install demo-data browser pdf-libs bench clean

run: install pdf-libs demo-data
	$(BIN)/streamlit run app.py --server.port $(PORT)

# Server-mode tests need PostgreSQL + PostGIS: a throw-away cluster is started for the run
# (scripts/pg-test-cluster) unless DAC_MAP_TEST_DATABASE_URL already names a database.
test: install browser pdf-libs
	scripts/pg-test-cluster run $(BIN)/python -m pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo-data: install
	$(BIN)/dac-map demo --if-missing

# Debian's chromium for the end-to-end tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (browser tests will be skipped)"; fi; }

# Debian Pango libraries for WeasyPrint (PDF sheet and report).
pdf-libs:
	@ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null; \
	  else echo "Pango missing: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core (PDF exports)"; fi; }

bench: install
	$(BIN)/python benchmarks/bench_etl.py
	$(BIN)/python benchmarks/bench_query.py
	$(BIN)/python benchmarks/bench_coverage.py
	$(BIN)/python benchmarks/bench_ui.py
	$(BIN)/python benchmarks/bench_privacy.py
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_finess_plus.py
	$(BIN)/python benchmarks/bench_inclusion.py

clean:
	rm -rf data/build benchmarks/output tests/output
