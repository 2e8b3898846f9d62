"""`python -m imgtool` is the same as the `imgtool` console script."""

from imgtool.cli.main import run

run()
