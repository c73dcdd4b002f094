# The two quick-start commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# glibc would hand large activation buffers back to the kernel after every op; on CPU that doubles
# forward times (../shared/FACTS.md). Keeping them mapped costs nothing on a GPU box.
export GLIBC_TUNABLES ?= glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296

.PHONY: install demo test

$(STAMP): setup.py requirements.txt requirements-test.txt scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/run_demo.py

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest tests
