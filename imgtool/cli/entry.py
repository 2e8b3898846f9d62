"""The `imgtool` console script (and `python -m imgtool`): the CLI, started with the collector paused.

Why: start-up (typer, the command tree) creates tens of thousands of long-lived objects and almost
no garbage, yet the cyclic garbage collector scans them over and over while they are made, and once
more at exit. Pausing it for the imports, then freezing what they made (`gc.freeze`: kept for the
life of the process, never scanned again), takes ~10% off a short command (docs/benchmarks.md "CLI
start-up"). The command itself runs with the collector on, as usual.
"""

import gc


def run() -> None:
    """Import the CLI with the collector paused, freeze what the import made, then run the CLI."""
    gc.disable()
    try:
        from .main import run as main
    finally:
        gc.freeze()
        gc.enable()
    main()
