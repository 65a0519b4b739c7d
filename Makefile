# The two commands of the README:
#   make book   set up .venv (if needed) and build the book on the embedded benchmark (main job)
#   make test   set up .venv (if needed) and run the test suite
# and, to explore: make lab   (JupyterLab on notebooks/, from .venv)
PY := .venv/bin/python
PROFILE ?= cpu

.PHONY: setup book test lab bench gpu-check clean-book

setup:
	@bash scripts/setup.sh

book: setup
	@bash scripts/book.sh $(PROFILE)

test: setup
	@$(PY) -m ruff check . && $(PY) -m ruff format --check .
	@$(PY) -m pytest -q -n 2 --dist loadfile tests

# JupyterLab on the notebooks, from the project's .venv (ARGS="--no-browser --port 8890" etc. are passed on).
lab: setup
	@.venv/bin/jupyter lab notebooks/ $(ARGS)

# On a GPU machine, with or without .venv (no network needed): see the README's "GPU check".
gpu-check:
	@bash scripts/gpu_check.sh $(ARGS)

bench: setup
	@$(PY) bench/bench_be.py

clean-book:
	rm -rf book/_build
