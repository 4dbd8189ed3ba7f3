"""`python -m skybinder` runs the command line."""

from skybinder.cli import app

app()
