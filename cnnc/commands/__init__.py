"""Subcommands of the `cnnc` CLI, one module each (see cnnc/cli.py)."""
