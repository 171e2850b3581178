# The two commands of the README:
#   make lab    set everything up, then open JupyterLab on notebooks/00_welcome.ipynb
#   make test   set everything up, then run the whole test suite in quick mode
# Both create .venv/ (Python 3.10+) on first use; only Python 3, git and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test exercises doctor clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(PY) -m course doctor || true
	$(PY) -m jupyterlab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" notebooks/00_welcome.ipynb

test: $(STAMP)
	COURSE_QUICK=1 $(PY) -m pytest -v --durations=15

exercises: $(STAMP)
	$(PY) -m course make-exercises

doctor: $(STAMP)
	$(PY) -m course doctor

clean:
	rm -rf $(VENV) *.egg-info
