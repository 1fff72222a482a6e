"""`python -m reporter` is the same as the `reporter` console script."""

import sys

from reporter.app.cli import main

sys.exit(main())
