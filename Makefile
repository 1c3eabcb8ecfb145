# Two commands do everything on a fresh machine: `make app` and `make test`. Both create .venv/ first.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: install app test browser bench demo clean lock test-latest

# A fresh machine installs exactly the versions the tests last passed with: constraints.txt pins every package
# (direct and indirect). `make lock` refreshes it from the newest releases; `make test-latest` tries them without
# touching the lock.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "pip==26.3"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# The newest releases allowed by pyproject.toml, in a venv of their own (.venv-latest), and the whole suite on them.
LATEST := .venv-latest
$(LATEST)/.installed: pyproject.toml
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet -e ".[dev]"
	touch $@

test-latest: browser
	rm -f $(LATEST)/.installed
	$(MAKE) $(LATEST)/.installed
	$(LATEST)/bin/python -m pytest

# Refresh the lock: the newest releases, tested, then written to constraints.txt (commit it with the change).
lock: test-latest
	{ echo "# Every package make install takes, at the version the suite passed with. Refresh: make lock."; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable; } > constraints.txt

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
	$(PY) benchmarks/bench_plan.py

demo: install
	$(PY) -m optimizer solve

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .hypothesis
