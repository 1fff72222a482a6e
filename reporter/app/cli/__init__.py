"""Commands only: parse arguments, call the stages, print, map errors to exit codes.

`entry.main` is the `reporter` console script and `python -m reporter`; each command group is a
module that declares its arguments beside its handler (runs, delivery, servers, archive,
personas, setup), and `common` holds what they share: one way to load and check the
configuration, naming a run, printing delivery outcomes."""

from reporter.app.cli.entry import main

__all__ = ["main"]
