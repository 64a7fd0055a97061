"""`python -m incident` runs the same CLI as the `incident` script."""

from incident.cli import run

run()
