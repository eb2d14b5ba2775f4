#!/usr/bin/env bash
# CI: install Open MPI (Debian packages) and mpi4py, for tests/test_distributed.py.
# Idempotent: whatever is already installed is left alone.
set -euo pipefail

# openmpi-bin gives mpirun; libopenmpi-dev gives mpicc (needed if pip builds mpi4py from source).
if ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev
fi

if ! python -c "import mpi4py" >/dev/null 2>&1; then
    python -m pip install -q "mpi4py>=3.1"
fi

mpirun --version | head -n 1
python -c "import mpi4py; print('mpi4py', mpi4py.__version__)"
