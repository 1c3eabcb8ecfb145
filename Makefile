# Two commands do everything on a fresh machine: `make app` and `make test`. Both create .venv/ first.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: install app test browser bench demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# Debian's Chromium for the real-browser test (Playwright cannot download its own browser here), and a Japanese
# font so the Japanese pages show glyphs, not boxes.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; } || { \
	  echo "installing Debian's chromium and fonts-noto-cjk for the browser test"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

app: install
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port $${PORT:-8501} --server.headless true --browser.gatherUsageStats false

test: install browser
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/bench_solve.py
	$(PY) benchmarks/bench_app.py
	$(PY) benchmarks/bench_batch.py --two
	$(PY) benchmarks/bench_risk.py
	$(PY) benchmarks/bench_market.py

demo: install
	$(PY) -m optimizer solve

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
