# The two entry points of the README. Both work on a fresh Debian 12 machine (as root):
# `setup` installs what is missing (apt packages, and imgtool into .venv) and is quick when nothing is.
# demo and test run with the project's .venv first on the PATH, so `imgtool`, `python3` and pytest
# are the venv's, never the system's.
.PHONY: setup demo test bench

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	$(VENV)/bin/python -m pytest -q -rs -p no:cacheprovider

bench: setup
	$(VENV)/bin/python bench/layer_codec.py
