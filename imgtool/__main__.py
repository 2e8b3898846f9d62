"""`python -m imgtool` is the same as the `imgtool` console script."""

from imgtool.cli.entry import run

run()
