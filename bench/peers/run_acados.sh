#!/usr/bin/env bash
# Run acados_peer.py in the acados venv with the environment acados needs.
# Usage: bash bench/peers/run_acados.sh [--problem unicycle,arm2,pendulum,chain3,...] [--steps K]
#                                       [--variant rti|sqp|all] [--build-dir DIR]
# The venv ($ACADOS_VENV, default <repo>/.venv-acados) is created by setup_acados.sh
# on first use. On any setup failure one error JSON line is printed and the exit code is 0.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${ACADOS_VENV:-$REPO_ROOT/.venv-acados}"
export ACADOS_VENV="$VENV"

fail() {
    printf '{"tool": "acados-rti", "error": "%s"}\n' "$1"
    exit 0
}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import acados' 2>/dev/null; then
    bash "$HERE/setup_acados.sh" >&2 || fail "setup_acados.sh failed"
fi
ACADOS_DIR="$("$VENV/bin/python" -c 'import acados, os; print(os.path.dirname(acados.__file__))')" \
    || fail "acados package not found in $VENV"

export ACADOS_SOURCE_DIR="$ACADOS_DIR/install"
export TERA_PATH="$ACADOS_DIR/install/bin/t_renderer"
export ACADOS_PYTHON_INTERFACE_PATH="$ACADOS_DIR/acados_template"
export LD_LIBRARY_PATH="$ACADOS_DIR/install/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONPATH="$ACADOS_DIR:$REPO_ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$VENV/bin/python" "$HERE/acados_peer.py" "$@"
