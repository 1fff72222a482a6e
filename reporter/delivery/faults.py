"""Fault points: named places between two delivery steps where a test can kill the process.

With REPORTER_FAULT_AT naming a point, a process that reaches it writes its pid to the file
REPORTER_FAULT_MARKER and stops there until it is killed: the fault suite's SIGKILL lands
exactly between two steps (a handshake, never a head start). A test that removes the marker
lets the process go on from there (a run held at a point while another starts). Unset, a point
does nothing.

Points, in the order a delivery passes them: claimed (recipients claimed, nothing sent),
answered (the server answered, the ledger not yet settled), settled (the ledger settled,
run.json not yet told). Between claimed and answered, a test kills the process when its mail
server has received the data. Every stage of a run is a point too, `stage-<name>` (load,
segment, pdf, publish, ...), entered before the stage starts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

FAULT_ENV = "REPORTER_FAULT_AT"
MARKER_ENV = "REPORTER_FAULT_MARKER"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) != name or not os.environ.get(MARKER_ENV):
        return
    marker = Path(os.environ[MARKER_ENV])
    marker.write_text(str(os.getpid()))
    while marker.exists():  # until the test's SIGKILL, or the test removes the marker: go on
        time.sleep(0.01)
