"""`python -m promptpulse.cli`: the same command as the `promptpulse` script."""

from promptpulse.cli import main

main()
