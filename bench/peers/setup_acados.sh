#!/usr/bin/env bash
# Create a separate venv holding acados (via comma-deps-acados) for the acados peer.
# acados must not share a process with CasADi's fatrop/hpipm plugins, so it gets its own venv.
# Usage: bash bench/peers/setup_acados.sh   (venv path: $ACADOS_VENV, default <repo>/.venv-acados)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${ACADOS_VENV:-$REPO_ROOT/.venv-acados}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet comma-deps-acados 'casadi==3.8.2' 'numpy==2.4.6' \
    'pydantic==2.14.4' scipy

ACADOS_DIR="$("$VENV/bin/python" - <<'PY'
import glob
import site
for d in site.getsitepackages():
    hits = glob.glob(d + '/acados')
    if hits:
        print(hits[0])
        break
PY
)"
if [ -z "$ACADOS_DIR" ] || [ ! -d "$ACADOS_DIR/install/lib" ]; then
    echo "acados not found in $VENV site-packages" >&2
    exit 1
fi
chmod +x "$ACADOS_DIR/install/bin/t_renderer" 2>/dev/null || true
echo "acados ready: $ACADOS_DIR (venv $VENV)" >&2
