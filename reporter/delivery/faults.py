"""Fault points: named places between two delivery steps where a test can kill the process.

With REPORTER_FAULT_AT naming a point, a process that reaches it writes its pid to the file
REPORTER_FAULT_MARKER and stops there until it is killed: the fault suite's SIGKILL lands
exactly between two steps (a handshake, never a head start). Unset, a point does nothing.

Points, in the order a delivery passes them: claimed (recipients claimed, nothing sent),
answered (the server answered, the ledger not yet settled), settled (the ledger settled,
run.json not yet told). Between claimed and answered, a test kills the process when its mail
server has received the data. Every stage of a run is a point too, `stage-<name>` (load,
segment, pdf, publish, ...), entered before the stage starts.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

FAULT_ENV = "REPORTER_FAULT_AT"
MARKER_ENV = "REPORTER_FAULT_MARKER"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) != name or not os.environ.get(MARKER_ENV):
        return
    Path(os.environ[MARKER_ENV]).write_text(str(os.getpid()))
    while True:  # until the test's SIGKILL
        signal.pause()
