"""Commands only: parse arguments, call the stages, print, map errors to exit codes.

`entry.main` is the `reporter` console script and `python -m reporter`; `commands` declares
every command's arguments and names its handler, a function of the command group's module
(runs, delivery, servers, archive, personas, setup), imported only when that command runs;
`common` holds what the handlers share: one way to load and check the configuration, naming a
run, printing delivery outcomes."""

from reporter.app.cli.entry import main

__all__ = ["main"]
