"""Independent rollouts on Dask distributed, or in this process.

The rollouts of a tuning iteration, of a sensitivity table and of a Pareto sweep do not depend
on each other: they go to a Dask cluster, a ``LocalCluster`` on this machine by default (one
single-threaded worker process per core) or an existing one by address (``--scheduler
tcp://HOST:8786``). Each task carries the config and the loss as plain data; each worker process
builds its controller (and its compiled solver, from the shared on-disk cache) at most once per
config and says so with its first result. A rollout is a pure function of the weights and the
scenario (its solver starts cold, its noise is seeded), so a cluster returns exactly what a
serial run returns.
"""
import hashlib
import json
import logging
import os
import time

from ..core.config import MPCConfig
from ..core.loss import LossFile
from ..core.rollout import Evaluator

_EVALUATORS = {}     # per process: digest of (config, loss) -> Evaluator


def _where():
    try:
        from distributed import get_worker
        return 'worker %s' % get_worker().address
    except (ImportError, ValueError):
        return 'this process'


def evaluator(cfg_data, loss_data, converged=True, where=None):
    """The process's Evaluator for this config and loss, and a note when it was just built."""
    key = hashlib.sha256(json.dumps([cfg_data, loss_data, converged],
                                    sort_keys=True).encode()).hexdigest()
    if key in _EVALUATORS:
        return _EVALUATORS[key], ''
    messages = []
    started = time.perf_counter()
    ev = Evaluator(MPCConfig.model_validate(cfg_data), LossFile.model_validate(loss_data),
                   progress=messages.append, converged=converged)
    _EVALUATORS[key] = ev
    solver = ev.cfg.solver
    what = messages[-1] if messages else 'built the %s solver%s' % (
        solver.name, ' (compiled)' if solver.compiled else '')
    return ev, '%s: controller ready in %.1f s: %s' % (
        where or _where(), time.perf_counter() - started, what)


def prepare_task(cfg_data, loss_data, gradients=False, converged=True, dask_worker=None):
    """Build this process's controller (and, for gradients, the derivative functions) before
    any rollout; returns the note (empty when it was already built). Dask's ``client.run``
    passes the worker."""
    where = 'worker %s' % dask_worker.address if dask_worker is not None else None
    ev, note = evaluator(cfg_data, loss_data, converged, where)
    if gradients:
        started = time.perf_counter()
        diff = ev.ctrl.differentiator
        if note:
            note += '; sensitivities ready in %.1f s%s' % (
                time.perf_counter() - started, ' (compiled)' if diff.compiled else '')
    return note


def rollout_task(cfg_data, loss_data, weights, scenario, gradient=(), keep=False,
                 converged=True):
    """One rollout (a Dask task): (Outcome, note)."""
    ev, note = evaluator(cfg_data, loss_data, converged)
    return ev.run(weights, ev.loss.scenarios[scenario], list(gradient), keep), note


class Runner:
    """Runs rollout jobs (weights, scenario index, gradient labels, keep) serially or on Dask;
    counts them."""

    def __init__(self, cfg, loss, scheduler=None, workers=None, serial=False, say=None):
        # plain dicts, not JSON: bounds may be infinite
        self.cfg_data = cfg.model_dump()
        self.loss_data = loss.model_dump()
        self.say = say or (lambda msg: None)
        self.rollouts = 0
        self.client = self.cluster = None
        if serial:
            self.where = 'serial (this process)'
            return
        from distributed import Client, LocalCluster
        if scheduler:
            self.client = Client(scheduler, timeout='30s')
            self.where = 'Dask cluster at %s (%d workers)' % (
                scheduler, len(self.client.scheduler_info().get('workers', {})))
        else:
            n = int(workers or os.cpu_count() or 1)
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            self.where = 'Dask LocalCluster (%d workers)' % n

    def prepare(self, gradients=False, converged=True):
        """Build the controller on every worker (or here) now, each saying so."""
        args = (self.cfg_data, self.loss_data, gradients, converged)
        if self.client is None:
            notes = [prepare_task(*args)]
        else:
            notes = list(self.client.run(prepare_task, *args).values())
        for note in notes:
            if note:
                self.say(note)

    def map(self, jobs, converged=True):
        """Outcomes of ``jobs`` = [(weights, scenario index, gradient labels, keep)], in order;
        ``converged`` False: the config's own solver (sqp_rti as deployed)."""
        args = [(self.cfg_data, self.loss_data, w, s, tuple(g), k, converged)
                for w, s, g, k in jobs]
        if self.client is None:
            results = [rollout_task(*a) for a in args]
        else:
            futures = [self.client.submit(rollout_task, *a, pure=False) for a in args]
            results = self.client.gather(futures)
        self.rollouts += len(jobs)
        for _, note in results:
            if note:
                self.say(note)
        return [outcome for outcome, _ in results]

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
