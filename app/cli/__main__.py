"""``python -m app.cli`` runs the ``logtriage`` command line."""

from app.cli.main import main

main()
