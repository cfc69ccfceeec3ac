# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := samples/ai_alliance/article.html

.PHONY: install run test lint format golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# pip 23 in a fresh venv skips lxml_html_clean, which trafilatura needs: upgrade first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# One-off extraction of the bundled sample into ./newsfacts.db, shown as tables.
run: install
	$(BIN)/newsfacts run $(SAMPLE) --db sqlite:///newsfacts.db

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rewrite samples/*/*.expected.json from the current code; review with `git diff samples/`.
golden: install
	$(BIN)/newsfacts golden --update

clean:
	rm -rf $(VENV) newsfacts.db .pytest_cache .mypy_cache .ruff_cache
