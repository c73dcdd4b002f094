# The two quick-start commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# glibc would hand large activation buffers back to the kernel after every op; on CPU that doubles
# forward times (../shared/FACTS.md). Keeping them mapped costs nothing on a GPU box. The value is the one
# realestate_sr/utils/malloc_tuning.py defines (MALLOC_TUNABLES), read from that file.
export GLIBC_TUNABLES ?= $(shell sed -n "s/^MALLOC_TUNABLES = '\(.*\)'$$/\1/p" realestate_sr/utils/malloc_tuning.py)

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
