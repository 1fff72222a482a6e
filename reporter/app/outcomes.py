"""What a command did, one line each: every email, every CRM push, every pruned run, and the
exit code they add up to. `run`, `send`, `release` and the scheduler print these same lines."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from reporter.delivery.hints import console_command
from reporter.exits import Exit, outcome_code

if TYPE_CHECKING:  # the records only; importing mail would import WeasyPrint for every command
    from reporter.delivery.crm import Pushed
    from reporter.delivery.mail import Outcome


def delivery_lines(outcome: Outcome) -> list[str]:
    """'Email to Marketing: sent', then one indented line per recipient left out, and why."""
    detail = outcome.eml or outcome.error
    refused = f"; refused: {', '.join(outcome.refused)}" if outcome.refused else ""
    lines = [f"Email to {outcome.team}: {outcome.status}" + (f" ({detail})" if detail else "") + refused]
    return lines + [f"  {address}: {why}" for address, why in outcome.skipped.items()]


def push_line(pushed: Pushed, run_id: str, config_path: Path | None) -> str:
    """'crm warehouse: sent (2,058 customers upserted ...)', or failed with why and what next."""
    line = f"crm {pushed.target}: {pushed.status}" + (f" ({pushed.detail})" if pushed.detail else "")
    if not pushed.failed:
        return line
    send = console_command(config_path, "send", "--run", run_id)
    again = console_command(config_path, "push", "--run", run_id, "--target", pushed.target)
    return (f"{line}; the email went; the next `{send}` pushes it again by itself (so does the "
            f"scheduler's next run), or push it now with `{again}`")


def failure_lines(outcomes: Iterable[Outcome], run_id: str, config_path: Path | None,
                  resend_with: tuple[str, ...] = ()) -> list[str]:
    """The error lines for failed and uncertain emails, each with the command that fixes it;
    `resend_with`: the options the failed send had (a forced send's `--force`: without it the
    command given did nothing, "already sent")."""
    outcomes = list(outcomes)
    lines = []
    failed = [o.team for o in outcomes if o.failed]
    if failed:
        resend = console_command(config_path, "send", "--run", run_id, *resend_with)
        lines.append(f"reporter: error: delivery failed for {', '.join(failed)}; the brief is "
                     f"archived, re-send it with `{resend}` once the cause above is put right")
    unconfirmed = [o.team for o in outcomes if o.unconfirmed]
    if unconfirmed:
        forced = [console_command(config_path, "send", "--run", run_id, "--team", team, "--force")
                  for team in unconfirmed]
        again = " or ".join(f"`{command}`" for command in forced)
        lines.append(f"reporter: error: delivery to {', '.join(unconfirmed)} is uncertain: the mail "
                     "server took the message but never confirmed it, and it is not sent again by "
                     "itself; ask the recipients or check the server's log, and only if it did not "
                     f"arrive run {again}")
    return lines


def exit_code(outcomes: Iterable[Outcome], pushes: Iterable[Pushed] = (), held: bool = False) -> Exit:
    outcomes = list(outcomes)
    failed = any(o.failed or o.unconfirmed for o in outcomes)
    return outcome_code(failed, held, any(p.failed for p in pushes))
