# radioexplore: `make demo` serves the demo app, `make test` runs the tests; both install into .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN ?= runs/demo
PORT ?= 5006
TORCH := torch==2.13.0

.PHONY: install demo demo-run test lint browser clean-demo

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first: the CPU wheel of $(TORCH); a bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(STAMP)

# Chromium for the browser tests: Debian's package (needs root, as in CI); skipped with a note otherwise.
browser:
	@if [ -x /usr/bin/chromium ]; then true; \
	elif [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "note: /usr/bin/chromium missing and not root: browser tests will be skipped (sudo apt-get install chromium)"; fi

$(RUN)/scores: | $(STAMP)
	$(VENV)/bin/radioexplore demo --run $(RUN)

demo-run: $(STAMP) $(RUN)/scores

demo: demo-run
	@echo "serving the demo run $(RUN) at http://localhost:$(PORT)/app"
	$(VENV)/bin/panel serve app/ --address 127.0.0.1 --port $(PORT) --args --run $(RUN)

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-demo:
	rm -rf $(RUN)
