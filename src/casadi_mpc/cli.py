"""`casadi-mpc`: run the system, the demo, the offline closed loop and the benchmarks."""
import argparse
import sys
from importlib import import_module

# subcommand -> (module, function taking argv, help); modules import lazily so the offline
# commands never load rclpy
COMMANDS = {
    'simulate': ('casadi_mpc.tools.simulate', 'main',
                 'offline closed loop (controller + plant, no ROS) with summary and plot'),
    'demo': ('casadi_mpc.tools.demo', 'main',
             'simulated diff-drive loop over ROS 2 (sim + mpc nodes), summary and PNG report'),
    'record': ('casadi_mpc.tools.record', 'main',
               'record the topics of a running system to an MCAP file (ROS 2 schemas)'),
    'report': ('casadi_mpc.tools.report', 'main',
               'the PNG report and summary of a recording (MCAP)'),
    'launch': ('casadi_mpc.runner', 'main',
               'start the system (sim | robot) as processes, like ros2 launch'),
    'sensitivity': ('casadi_mpc.tools.sensitivity', 'main',
                    'which weight to change, and which way: dL/dw of a closed-loop loss, '
                    'predicted and measured for a 10 %% nudge'),
    'tune': ('casadi_mpc.tools.tune', 'main',
             'gradient descent on the weights against a closed-loop loss; writes the tuned '
             'parameter file'),
    'pareto': ('casadi_mpc.tools.pareto', 'main',
               'task-energy front over the energy weights; writes the knee point'),
    'docs': ('casadi_mpc.tools.docs', 'main',
             "the README's parameter tables from the schemas (--check, --write)"),
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help') or argv[0] not in COMMANDS:
        parser = argparse.ArgumentParser(prog='casadi-mpc', description=__doc__)
        parser.add_argument('command', choices=sorted(COMMANDS),
                            help='; '.join('%s: %s' % (k, v[2]) for k, v in COMMANDS.items()))
        parser.parse_args(argv[:1])
        return 2
    module, func, _ = COMMANDS[argv[0]]
    return getattr(import_module(module), func)(argv[1:]) or 0


if __name__ == '__main__':
    sys.exit(main())
