"""Tests of SmartCart Briefs."""
import os

# The suite runs in one process per core (pytest-xdist), so each process uses one thread for
# OpenMP and BLAS: otherwise KMeans in two workers spins four threads on two cores. This
# package is imported before conftest.py, so before numpy loads; child processes (`reporter
# run` started by a test) inherit it.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
