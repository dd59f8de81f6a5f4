# Every target sets up its own virtualenv in .venv when needed.
PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
# axe-core (accessibility checks in the browser tests) and us-atlas, from the npm registry
NODE_STAMP = node_modules/.installed
PORT ?= 8001

.PHONY: build serve serve-prod test bench bench-load bench-weight fetch publish clean messages bytecode

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

# The package's bytecode, written ahead for the tests and the benchmark, which run the CLI hundreds of times:
# where PYTHONDONTWRITEBYTECODE is set (as on this project's machines) Python never writes it, and every command would
# compile the modules again (about 0.07 s each). compileall rewrites only what changed.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q open287g

# Exit 1 from the build means "built; a file was rejected" (named on stderr, recorded in
# build_anomalies): the database holds everything else, so serve, publish and the refresh go on.
# Exit 2 means "not built" and fails make (exit codes: README.md, "How it is built").
build: $(STAMP)
	$(BIN)/open287g build || [ $$? -eq 1 ]

serve: build
	$(BIN)/open287g serve --port $(PORT)

# The production layout (docs/OPERATIONS.md, open287g/prod.py): nginx from Debian caching in front
# of Datasette, typed SQL in its own rate-limited process, all run by supervisord, as in the Docker
# image. Needs nginx (apt-get install nginx-light).
serve-prod: build
	$(BIN)/open287g serve --prod --port $(PORT)

test: $(STAMP) $(NODE_STAMP) bytecode
	$(BIN)/python -m pytest

# The pandas baseline's packages go into a folder of their own, never into .venv: sqlite-utils imports pandas
# whenever it is installed (about 0.4 s a build), and the build is timed as it runs in production.
BENCH_PACKAGES = build/bench-packages
$(BENCH_PACKAGES)/.installed:
	$(BIN)/python -m pip install --quiet --target $(BENCH_PACKAGES) 'pandas>=2.0' 'openpyxl>=3.1.5'
	touch $@

bench: $(STAMP) $(BENCH_PACKAGES)/.installed bytecode
	$(BIN)/python scripts/bench_build.py --baseline-packages $(BENCH_PACKAGES)

# Datasette's work per request before/after materialising, then direct vs the nginx layout (needs nginx and wrk).
bench-load: $(STAMP)
	$(BIN)/python scripts/bench_requests.py
	$(BIN)/python scripts/bench_load.py

bench-weight: $(STAMP)
	$(BIN)/python scripts/bench_weight.py

fetch: $(STAMP)
	$(BIN)/open287g fetch

publish: build
	$(BIN)/open287g publish

# New or changed reader text: extract it into the template catalogue and merge it into each language's
# .po (open287g/locale/), where a translator fills in the new msgstr lines (docs/GLOSSARY.md).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k plural:2,3 -k _ -k _N -k gettext -k ngettext:1,2 --no-location --sort-output --omit-header -o open287g/locale/messages.pot .
	$(BIN)/pybabel update -i open287g/locale/messages.pot -d open287g/locale -D messages --no-wrap --ignore-obsolete

clean:
	rm -rf build
