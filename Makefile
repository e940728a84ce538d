# Two commands for a fresh clone: `make train` (the main job) and `make test` (the suite).
# Each installs what it needs, once: `make train` the runtime dependencies only (NumPy,
# matplotlib, rich, safetensors, threadpoolctl); `make test` adds the test extra (pytest,
# hypothesis, PyTorch CPU as the oracle) and the Debian packages the tests read
# (tools/install_test_system_packages.sh). A marker file per step records that it is done;
# editing pyproject.toml redoes them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo train test lint bench parity gpu-check

# Editable installs from pyproject.toml need pip >= 21.3; a newer one is left as it is.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'pip>=21.3'
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed tools/install_test_system_packages.sh
	bash tools/install_test_system_packages.sh
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.dev-installed: $(VENV)/.test-installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Bytecode first: where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile
# every chainrule module at every start (about 0.1 s of `import chainrule`); up to date,
# this costs about 0.05 s (docs/performance.md, "Start-up").
demo: $(VENV)/.installed
	$(PY) -m compileall -q src
	$(PY) examples/xor_engine.py

train: $(VENV)/.installed
	$(PY) -m compileall -q src
	$(VENV)/bin/chainrule train

test: $(VENV)/.test-installed
	$(PY) -m pytest -q -n 2

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .

$(VENV)/.bench-installed: $(VENV)/.test-installed
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/run.py

# issue 19's additions, each with its largest difference from PyTorch (docs/pytorch.md)
parity: $(VENV)/.test-installed
	$(PY) tools/parity_report.py

# issue 16: on a machine with an NVIDIA GPU and CuPy (pip install cupy-cuda12x, or
# cupy-cuda13x): the op table on CuPy, Fashion-MNIST on the GPU against the CPU, and W1/W3
# against PyTorch CUDA (benchmarks/gpu.py); a few minutes. Elsewhere it skips, saying why.
gpu-check: $(VENV)/.test-installed
	timeout 600 $(PY) -m pytest -q -rs -n 2 tests/gpu
	timeout 300 $(PY) benchmarks/gpu.py
