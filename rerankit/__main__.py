"""``python -m rerankit`` runs the command line."""

from rerankit.cli import main

main()
