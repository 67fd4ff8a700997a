"""``python -m segtool`` runs the CLI."""

from .cli import main

main()
