"""What ``casadi-mpc sensitivity | tune | pareto`` share: their common options, the tuning
problem (config, loss file, tuned weights and bounds) and the loss of a set of weights over
every scenario, rolled out by a Runner (Dask or serial)."""
import argparse
import sys
from pathlib import Path

import numpy as np

from ..core import loss as loss_file
from ..core.config import ConfigError, load, with_changes
from ..core.controller import build_problem
from ..core.rollout import config_weights, prepare, select, weight_key
from ..core.solvers import BACKENDS
from ..core.tuner import Point
from .cluster import Runner


def parser(prog, description):
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument('--config', required=True, help='parameter file, e.g. config/diff_drive.yaml')
    ap.add_argument('--scenarios', required=True,
                    help='loss file: loss metrics, scenarios, optional tune section (YAML)')
    ap.add_argument('--solver', choices=BACKENDS,
                    help="backend of the rollouts (default: the config's; sqp_rti runs as sqp "
                    'iterated to convergence)')
    ap.add_argument('--output-dir', default='.', help='where the outputs go (default: here)')
    ap.add_argument('--scheduler', help='address of an existing Dask scheduler '
                    '(tcp://HOST:8786); default: a LocalCluster on this machine')
    ap.add_argument('--workers', type=int, help='LocalCluster workers (default: one per core)')
    ap.add_argument('--serial', action='store_true', help='no Dask: every rollout in this process')
    ap.add_argument('--quiet', action='store_true', help='no progress output')
    return ap


def say(args):
    """Progress lines on stderr (above a running progress bar), or nothing with --quiet."""
    if args.quiet:
        return lambda msg: None
    from tqdm import tqdm
    return lambda msg: tqdm.write(msg, file=sys.stderr)


class Problem:
    """The config, the loss file and the tuned entries, with their bounds."""

    def __init__(self, args):
        cfg = load(args.config)
        if args.solver:
            changes = {'solver.name': args.solver}
            if cfg.solver.compiled and args.solver not in ('sqp', 'sqp_rti'):
                changes['solver.compiled'] = False
            cfg = with_changes(cfg, changes, '--solver')
        self.cfg = cfg
        self.path = Path(args.config)
        self.spec = loss_file.load(args.scenarios)
        built = build_problem(cfg)
        for scenario in self.spec.scenarios:
            prepare(scenario, cfg, built[0], built[2])
        self.weights = config_weights(cfg, built)
        tune = self.spec.tune
        self.labels, self.lower, self.upper = select(self.weights, tune.weights, tune.bounds)
        self.w0 = np.array([self.weights[label] for label in self.labels])
        self.metric_weights = {k: m.weight for k, m in self.spec.loss.items()}

    def runner(self, args, doing, gradients=False):
        """A Runner for the command's options, announced, its workers prepared."""
        runner = Runner(self.cfg, self.spec, args.scheduler, args.workers, args.serial,
                        say(args))
        runner.say('%s: %d weights of %s, %d scenarios, rollouts on %s' % (
            doing, len(self.labels), self.path, len(self.spec.scenarios), runner.where))
        runner.prepare(gradients)
        return runner

    def weights_at(self, w):
        return {label: float(v) for label, v in zip(self.labels, w)}

    def rollouts(self, runner, candidates, gradient=False, keep=False, converged=True):
        """For each weight vector in ``candidates``: the scenarios' outcomes (one batch)."""
        n = len(self.spec.scenarios)
        jobs = [(self.weights_at(w), s, self.labels if gradient else (), keep)
                for w in candidates for s in range(n)]
        outcomes = runner.map(jobs, converged)
        return [outcomes[i * n:(i + 1) * n] for i in range(len(candidates))]

    def point(self, theta, outcomes):
        """A tuner Point at log-weights ``theta`` from its scenarios' outcomes: mean loss,
        gradient with respect to theta (exp(theta) * dL/dw)."""
        loss = float(np.mean([o.loss for o in outcomes]))
        errors = ['%s: %s' % (o.scenario, o.gradient_error) for o in outcomes if o.gradient_error]
        details = {'metrics': {o.scenario: o.metrics for o in outcomes},
                   'failures': int(sum(o.failures for o in outcomes))}
        if errors:
            return Point(theta, loss, None, '; '.join(errors), details)
        grad = np.mean([o.gradient for o in outcomes], axis=0) * np.exp(theta)
        return Point(theta, loss, grad, '', details)


def changed_keys(before, after):
    """{'costs.effort.weight': (old list, new list)} for each key with an entry in ``after``
    (label -> value) that differs from ``before`` (every entry's value)."""
    out = {}
    for key in sorted({weight_key(label)[0] for label in after}):
        entries = sorted((weight_key(label)[1], label) for label in before
                         if weight_key(label)[0] == key)
        old = [before[label] for _, label in entries]
        new = [after.get(label, before[label]) for _, label in entries]
        if old != new:
            out[key] = (old, new)
    return out


def output_path(args, problem, suffix):
    """``<output-dir>/<config stem><suffix>``; never the input file."""
    out = Path(args.output_dir) / (problem.path.stem + suffix)
    if out.resolve() == problem.path.resolve():
        raise ConfigError('%s would overwrite the input parameter file' % out)
    return out


def run_command(main):
    """Run a command body; bad input ends it with one line and status 2."""
    def wrapped(argv=None):
        try:
            return main(argv)
        except ConfigError as err:
            print('error: %s' % err, file=sys.stderr)
            return 2
    return wrapped
