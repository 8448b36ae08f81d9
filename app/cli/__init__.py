"""The command-line face: every ``logtriage`` command, its console helpers and the entry point."""
