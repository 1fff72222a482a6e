"""Exit codes: one table, so a cron wrapper, systemd and the docs agree on what each means.

docs/operations/exit-codes.md's meaning column is this table (a test keeps them equal).
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0               # delivered to every team (or written as .eml), every CRM push done
    BUG = 1              # an unexpected failure: the traceback is on stderr
    BAD_INPUT = 2        # bad input or config: one line names the file, line and fix
    DELIVERY_FAILED = 3  # archived, but an email failed or is uncertain
    HELD = 4             # archived and held by a pre-send check: no team received it
    PUSH_FAILED = 5      # delivered, but a CRM push failed (pushed again by the next send)
    SKIPPED = 6          # checks.unchanged_data: skip: the data is the baseline's; nothing archived

# Not outcomes of a command but what a shell reports for the signal's conventional end (128 + the
# signal's number); docs/operations/exit-codes.md lists them below the table's outcomes.
INTERRUPTED = 130  # Ctrl-C (SIGINT): nothing was archived
PIPE_CLOSED = 141  # stdout's reader left (SIGPIPE: `reporter archive list | head -1`)


MEANING = {
    Exit.OK: "done: the brief reached every team it was due to (or was written as `.eml`) and "
             "every CRM push succeeded",
    Exit.BUG: "an unexpected failure (a bug), with the traceback on stderr",
    Exit.BAD_INPUT: "bad input or config, with a one-line message naming the file, the line or "
                    "column and what to do; nothing written to the archive",
    Exit.DELIVERY_FAILED: "the brief was archived but an email could not be delivered, or its "
                          "delivery is uncertain (the line printed says which command sends it)",
    Exit.HELD: "the brief was archived but held by a pre-send check: no team received it; "
               "`reporter release RUN_ID` sends it",
    Exit.PUSH_FAILED: "the brief was delivered but a CRM push failed; the next `reporter send` "
                      "pushes it again (or `reporter push --run RUN_ID`)",
    Exit.SKIPPED: "skipped by `checks.unchanged_data: skip`: the data is the one the last delivered "
                  "run read; nothing was archived or sent, and the line printed names that run",
}


def describe(code: int) -> str:
    """'4 (held)' for a log line; an unknown code is shown as it is."""
    try:
        return f"{code} ({Exit(code).name.lower().replace('_', ' ')})"
    except ValueError:
        return str(code)


def outcome_code(delivery_failed: bool, held: bool, push_failed: bool) -> Exit:
    """The worst outcome wins: a failed email over a hold over a failed push."""
    if delivery_failed:
        return Exit.DELIVERY_FAILED
    if held:
        return Exit.HELD
    return Exit.PUSH_FAILED if push_failed else Exit.OK
