"""What the scheduler's forkserver imports once, so every scheduled run starts warm.

A missing system library (Pango, for WeasyPrint) must not stop the forkserver: the run itself
then says what to install, as a run from the command line does.
"""

from __future__ import annotations

import contextlib

import reporter.app.cli
import reporter.app.pipeline
import reporter.brief.charts

reporter.brief.charts.warm()  # matplotlib, the charts' cost (imported at the first chart)

with contextlib.suppress(OSError):
    import weasyprint  # noqa: F401
