"""Ours against the peers on the two standard problems: one table with do-mpc and acados.

Everything bench/solve_times.py runs, plus acados SQP-RTI (HPIPM), which runs in its own venv
and process through bench/peers/run_acados.sh (set up on first use by setup_acados.sh). If
acados cannot run, the table says why and keeps the rest; if do-mpc is missing, the script
prints the command that installs it (bench/requirements.txt) and skips its column.

Ratios are ours / peer: step / do-mpc's make_step, and solve (+ prep) / acados' solve().

    python bench/peers.py [--problem unicycle|arm2|all] [--steps K] [--repeat R] [--quick]
"""
import solve_times


def main(argv=None):
    return solve_times.main(argv, with_acados=True, description=__doc__)


if __name__ == '__main__':
    main()
