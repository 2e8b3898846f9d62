"""The command line: typer commands, one module per group. Thin: parse flags, call the package, print."""
