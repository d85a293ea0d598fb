"""`python -m rosetta_filter` runs the CLI."""

from rosetta_filter.cli import app

app()
