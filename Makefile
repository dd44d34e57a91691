# One-word runner. The README's quickstart is `make serve` and `make test`;
# everything they need is installed by the targets below.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: serve test setup translations messages browser clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

setup: $(VENV)/.installed translations

## compile the .po catalogues the portal reads at run time
translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile --use-fuzzy -d portal/translations >/dev/null

## after changing user-visible strings: extract them and merge into the catalogues
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --omit-header -o portal/translations/messages.pot .
	$(VENV)/bin/pybabel update --no-fuzzy-matching -i portal/translations/messages.pot -d portal/translations

## Debian's Chromium and CJK fonts for the browser tests (no browser download is possible)
browser:
	@bash scripts/ensure-browser.sh

## quickstart 1: set up, migrate, load the demo and serve on http://127.0.0.1:5000
serve: setup
	$(VENV)/bin/flask --app portal db upgrade
	$(VENV)/bin/flask --app portal demo
	$(VENV)/bin/flask --app portal run --host $(HOST) --port $(PORT)

## quickstart 2: set up and run the whole test suite
test: setup browser
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache
	find portal -name '*.mo' -delete
