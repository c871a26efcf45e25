# The two set-up commands of the README. Each installs what it needs itself.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh $(VENV)
	touch $@

# The tests also need PostgreSQL (hub on both databases) and Chromium (dashboard, kiosk).
$(VENV)/.installed-test: $(VENV)/.installed
	bash scripts/bootstrap.sh $(VENV) --test
	touch $@

demo: install
	$(BIN)/gatecheck demo $(DEMO_ARGS)

# One entry for CI and people: style, types, then the test suite.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
