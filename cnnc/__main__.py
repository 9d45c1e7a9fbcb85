#!python
"""`python -m cnnc`, and the `cnnc` command itself: pyproject.toml installs this file as
the command (hatch's shared-scripts; pip writes the environment's python in `#!python`).

Not a [project.scripts] entry point: the launcher pip writes for one imports `re` (and
`re` imports `enum`) before cnnc starts, about half of `python -c pass`, which every
`cnnc shapes` would pay against its start-up budget of 3x `python -c pass`
(BENCHMARKS.md). This file imports nothing but cnnc."""

from cnnc.cli import entry

if __name__ == "__main__":
    entry()
