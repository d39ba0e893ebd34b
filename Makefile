# Two commands do everything: `make demo` and `make test`. Each creates the virtual
# environment when missing and installs the core, every plugin under plugins/ and the
# example third-party plugin, all editable, each with its test extra.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.calcdet-installed
PLUGINS := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/*/pyproject.toml)))
LIBRARIES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard libraries/*/pyproject.toml)))
EXAMPLES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard examples/*/pyproject.toml)))
DEMO_DIR ?= demo
PYTEST_ARGS ?=

.PHONY: demo test lint install services clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A dropped connection mid-download (OpenCV's wheel is 70 MB) should cost a retry, not the
# run: pip resumes a partial download, and a whole install that still fails is tried again.
INSTALL_ATTEMPTS ?= 3
PIP_INSTALL = for attempt in $$(seq $(INSTALL_ATTEMPTS)); do \
	$(BIN)/pip install --quiet --retries 10 --resume-retries 10 $(1) && break; \
	[ $$attempt -lt $(INSTALL_ATTEMPTS) ] || exit 1; \
	echo "pip install failed (attempt $$attempt of $(INSTALL_ATTEMPTS)); trying again" >&2; sleep 15; \
	done

# torch is installed on its own first so that pip resolves one build for every plugin.
$(STAMP): $(BIN)/python pyproject.toml $(addsuffix /pyproject.toml,$(LIBRARIES) $(PLUGINS) $(EXAMPLES))
	$(call PIP_INSTALL,"torch>=2.2" "torchvision>=0.17")
	$(call PIP_INSTALL,-e ".[test]" $(foreach p,$(LIBRARIES) $(PLUGINS) $(EXAMPLES),-e "$(p)[test]"))
	touch $(STAMP)

services:
	bash scripts/install-test-services.sh

test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/python -m calcdet_core.run.demo --out $(DEMO_DIR)

clean:
	rm -rf $(VENV) $(DEMO_DIR)
