# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-year-ahead install lint format migration bench clean screenshots fuzz faults load

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The GOV.UK Frontend styles, compiled with the product's own font settings (npm, not copied).
CSS := build/static/app.css
node_modules/.installed-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CSS): node_modules/.installed-stamp static/app.scss
	mkdir -p build/static
	npm run --silent build:css

# GOV.UK Frontend's JavaScript as the package ships it (with its source map), and the product's
# module that starts it: copied at build time, never committed.
GOVUK_JS := node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js
JS := build/static/govuk-frontend.min.js build/static/app.js \
	build/static/accessible-autocomplete.min.js build/static/accessible-autocomplete.min.css
build/static/govuk-frontend.min.js: node_modules/.installed-stamp
	mkdir -p build/static
	cp $(GOVUK_JS) $(GOVUK_JS).map build/static/

build/static/app.js: static/app.js
	mkdir -p build/static
	cp static/app.js $@

# GOV.UK's accessible-autocomplete (the type-ahead of the long holder filters), as published.
AUTOCOMPLETE := node_modules/accessible-autocomplete/dist/accessible-autocomplete.min
build/static/accessible-autocomplete.min.js build/static/accessible-autocomplete.min.css: node_modules/.installed-stamp
	mkdir -p build/static
	cp $(AUTOCOMPLETE).js $(AUTOCOMPLETE).js.map $(AUTOCOMPLETE).css build/static/

# Swagger UI for the API documentation at /docs, from npm as published (pinned in package.json),
# with the product's start script: served from this site under its own CSP, no CDN.
SWAGGER := node_modules/swagger-ui-dist
DOCS_ASSETS := build/static/swagger-ui/swagger-ui-bundle.js build/static/swagger-ui/swagger-ui.css \
	build/static/swagger-ui/api-docs.js
build/static/swagger-ui/swagger-ui-bundle.js build/static/swagger-ui/swagger-ui.css: node_modules/.installed-stamp
	mkdir -p build/static/swagger-ui
	cp $(SWAGGER)/swagger-ui-bundle.js $(SWAGGER)/swagger-ui.css build/static/swagger-ui/

build/static/swagger-ui/api-docs.js: static/api-docs.js
	mkdir -p build/static/swagger-ui
	cp static/api-docs.js $@

install: $(STAMP) $(CSS) $(JS) $(DOCS_ASSETS)

## Set up, initialise the database, load the demo area on first run, serve on 127.0.0.1:8000.
run: install
	$(BIN)/compliance init
	test -f var/.demo-loaded || ($(BIN)/compliance demo && touch var/.demo-loaded)
	$(BIN)/compliance serve --host 127.0.0.1 --port 8000

## Set up and run the whole suite (on PostgreSQL too when COMPLIANCE_TEST_DATABASE_URL is set),
## on every core (pytest-xdist; PYTEST_WORKERS=0 runs it in one process), after the lint, the
## import contracts (pyproject's [tool.importlinter]) and the type check ([tool.mypy]).
PYTEST_WORKERS ?= auto
test: install
	$(BIN)/ruff check compliance tests
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not alone"
	$(BIN)/python -m pytest -m alone

## The suite again (SQLite, without the fuzzing) with its clock a year after today: a test that
## passes only near the date it was written fails here, not next month.
test-year-ahead: install
	COMPLIANCE_TEST_DATABASE_URL= COMPLIANCE_TEST_CLOCK=$$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%S+00:00) \
	  $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not alone" --ignore tests/test_fuzz.py
	COMPLIANCE_TEST_DATABASE_URL= COMPLIANCE_TEST_CLOCK=$$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%S+00:00) \
	  $(BIN)/python -m pytest -m alone

## Fuzz every API operation as each role with Schemathesis: 200 random examples per operation
## (`make test` runs 8 fixed ones). Long; on PostgreSQL too when COMPLIANCE_TEST_DATABASE_URL is set.
fuzz: install
	COMPLIANCE_FUZZ_EXAMPLES=200 COMPLIANCE_FUZZ_RANDOM=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/test_fuzz.py

lint: install
	$(BIN)/ruff check compliance tests
	$(BIN)/ruff format --check compliance tests

format: install
	$(BIN)/ruff format compliance tests
	$(BIN)/ruff check --fix compliance tests

## New migration from the models: make migration MESSAGE="add something"
migration: install
	$(BIN)/python -c "from alembic import command; from compliance.migrations import alembic_config; \
	from compliance.config import get_settings; import sys; \
	command.revision(alembic_config(get_settings().sqlalchemy_url), message=sys.argv[1], autogenerate=True)" "$(MESSAGE)"

## Time a full check, a body's obligations, the audit reports, the API listings and the exports
## on synthetic registries of 100 and 1,000 bodies (SQLite, and PostgreSQL when reachable), and
## the pages people open every day at 1,000 and 4,000 bodies (PostgreSQL); appends the figures
## to docs/performance.md.
bench: install
	$(BIN)/python -m benchmarks.bench
	$(BIN)/python -m benchmarks.reports
	$(BIN)/python -m benchmarks.api
	$(BIN)/python -m benchmarks.pages
	$(BIN)/python -m benchmarks.summaries

## Failure scenarios: kill -9 during uploads, PDF renders and checks; two schedulers; a flaky SMTP
## server; a private PostgreSQL restarted under load. Writes its sections of docs/reliability.md.
faults: install
	$(BIN)/python -m benchmarks.faults

## 50 simulated users for 60 s on SQLite and on PostgreSQL against `compliance serve`; writes its
## section of docs/reliability.md.
load: install
	$(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) var .pytest_cache

## PNGs of the main pages of the demo area, for the README (needs Debian's chromium).
screenshots: install
	$(BIN)/python docs/make_screenshots.py
