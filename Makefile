# The two entry points of the README. Both work on a fresh Debian 12 machine (as root):
# `setup` installs what is missing and is quick when nothing is.
.PHONY: setup demo test bench

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	python3 -m pytest -q -p no:cacheprovider

bench: setup
	python3 bench/layer_codec.py
