"""`casadi-mpc sensitivity | tune | pareto`, their parameter-file writer and the Dask runner."""
import json
import re

import numpy as np
import pytest
import yaml

from casadi_mpc.cli import main as cli
from casadi_mpc.core import loss as loss_file
from casadi_mpc.core.config import ConfigError, load, parse
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.rollout import Evaluator
from casadi_mpc.tools import param_file
from casadi_mpc.tools.cluster import Runner

CONFIG = '''# a slow unicycle: effort weighted far too much
mpc_node:
  ros__parameters:
    model:
      name: diff_drive
    horizon: 10
    dt: 0.1
    goal: [1.0, 0.5, 0.0]
    goal_tolerance: 0.1
    costs:
      goal_tracking:             # task
        weight: [0.2, 0.2, 0.02]
      terminal:
        weight: [2.0, 2.0, 2.0]
      effort:                    # energy
        weight: [4.0, 4.0]
    bounds:
      u_min: [-1.0, -2.0]
      u_max: [1.0, 2.0]
    solver:
      name: sqp
      max_iter: 50
sim_node:
  ros__parameters:
    model:
      name: diff_drive
'''
LOSS = '''loss:
  tracking: 1.0
  final_error: 5.0
  energy: 0.05
scenarios:
  - name: ahead
    x0: [0.0, 0.0, 0.0]
    steps: 25
  - name: turned
    x0: [0.2, -0.2, 0.5]
    goal: [1.0, 0.0, 0.0]
    steps: 25
tune:
  bounds:
    costs.effort.weight: [0.001, 10.0]
'''


@pytest.fixture
def files(tmp_path):
    cfg, spec = tmp_path / 'slow.yaml', tmp_path / 'loss.yaml'
    cfg.write_text(CONFIG)
    spec.write_text(LOSS)
    return cfg, spec, tmp_path


def run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tune_improves_and_writes_the_file_in_the_input_format(files, capsys):
    cfg, spec, tmp = files
    out_dir = tmp / 'out'
    out_dir.mkdir()
    code, out, err = run(capsys, 'tune', '--config', str(cfg), '--scenarios', str(spec),
                         '--serial', '--iterations', '4', '--output-dir', str(out_dir))
    assert code == 0, err
    assert cfg.read_text() == CONFIG          # the input is untouched
    tuned = out_dir / 'slow.tuned.yaml'
    text = tuned.read_text()
    assert text.startswith('# a slow unicycle')          # comments and layout kept
    assert '# was [4.0, 4.0]' in text and '# task' in text
    assert 'nan' not in text.lower()
    new = load(tuned)
    assert new.costs['effort'].weight[0] < 4.0          # less effort: the robot gets there
    assert yaml.safe_load(text)['sim_node'] == yaml.safe_load(CONFIG)['sim_node']
    history = json.loads((out_dir / 'slow.tune.json').read_text())
    assert history['loss_after'] < history['loss_before']
    assert history['rollouts'] == history['gradient_rollouts'] + 4
    assert len(history['iterations']) >= 2
    first = history['iterations'][0]
    assert {'iteration', 'loss', 'gradient_norm', 'weights', 'rejected', 'evaluations'} <= \
        set(first)
    lo, hi = history['bounds']['costs.effort.weight[0]']
    assert (lo, hi) == (0.001, 10.0)
    assert all(lo <= r['weights']['costs.effort.weight[0]'] <= hi
               for r in history['iterations'])
    assert (out_dir / 'slow.tune.png').stat().st_size > 10000
    assert 'loss' in out and '->' in out


def test_sensitivity_table_says_which_way(files, capsys):
    cfg, spec, tmp = files
    code, out, err = run(capsys, 'sensitivity', '--config', str(cfg), '--scenarios', str(spec),
                         '--serial', '--output-dir', str(tmp))
    assert code == 0, err
    rows = json.loads((tmp / 'slow.sensitivity.json').read_text())['rows']
    assert len(rows) == 8
    effort = [r for r in rows if r['weight'].startswith('costs.effort')]
    assert all(r['direction'] == 'lower' and r['dL_dw'] > 0 for r in effort)
    for r in rows:
        assert r['predicted'] <= 0      # the nudge goes the way that lowers the loss
    best = rows[0]
    assert best['measured'] < 0
    assert best['measured'] == pytest.approx(best['predicted'], rel=0.25)
    assert 'predicted dL' in out and best['weight'] in out


def test_pareto_front_and_knee(files, capsys):
    cfg, spec, tmp = files
    code, out, err = run(capsys, 'pareto', '--config', str(cfg), '--scenarios', str(spec),
                         '--serial', '--points', '5', '--output-dir', str(tmp))
    assert code == 0, err
    result = json.loads((tmp / 'slow.pareto.json').read_text())
    points = result['points']
    energy = [p['energy'] for p in points]
    assert energy == sorted(energy, reverse=True)    # more weight on energy, less energy
    assert result['knee'] in result['front']
    knee = load(tmp / 'slow.knee.yaml')
    scale = points[result['knee']]['scale']
    assert knee.costs['effort'].weight == pytest.approx([4.0 * scale] * 2, rel=1e-5)
    assert knee.costs['terminal'].weight == [2.0, 2.0, 2.0]
    assert (tmp / 'slow.pareto.png').exists()


@pytest.mark.parametrize('loss,match', [
    ('loss: {speed: 1.0}\nscenarios: [{x0: [0, 0, 0]}]', 'unknown metric'),
    ('loss: {tracking: 1.0}\nscenarios: [{x0: [0, 0]}]', 'x0 = .*expected 3'),
    ('loss: {tracking: 1.0}\nscenarios: [{x0: [0, 0, 0]}]\ntune: {weights: '
     '[costs.power.weight]}', 'no such weight'),
    ('loss: {tracking: 1.0}\nscenarios: [{x0: [0, 0, 0]}]\ntune: {bounds: '
     '{costs.effort.weight: [2.0, 1.0]}}', 'min <= max'),
    ('loss: {tracking: 1.0}\nscenarios: []', 'no scenario'),
    ('loss: {tracking: 1.0\nscenarios: [', 'malformed YAML'),
])
def test_bad_input_is_one_line_and_status_2(files, capsys, loss, match):
    cfg, spec, tmp = files
    spec.write_text(loss)
    code, out, err = run(capsys, 'tune', '--config', str(cfg), '--scenarios', str(spec),
                         '--serial', '--output-dir', str(tmp))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ')
    assert re.search(match, lines[0]), lines[0]
    assert not (tmp / 'slow.tuned.yaml').exists()


def test_writer_refuses_nan_and_its_input(files):
    cfg, _, tmp = files
    with pytest.raises(ConfigError, match='finite'):
        param_file.write(cfg, tmp / 'x.yaml', {'costs.effort.weight': ([4, 4], [np.nan, 1])})
    assert not (tmp / 'x.yaml').exists()
    with pytest.raises(ConfigError, match='overwrite'):
        param_file.write(cfg, cfg, {'costs.effort.weight': ([4, 4], [1, 1])})
    assert cfg.read_text() == CONFIG


def test_writer_adds_a_weight_the_file_left_to_the_default(files):
    cfg, _, tmp = files
    param_file.write(cfg, tmp / 'x.yaml', {'costs.input_rate.weight': ([0.01, 0.01],
                                                                       [0.02, 0.03])})
    assert load(tmp / 'x.yaml').costs['input_rate'].weight == [0.02, 0.03]


def test_dask_local_cluster_equals_a_serial_run(files, tmp_path):
    """A two-worker LocalCluster returns exactly what a serial run does; each worker builds its
    compiled solver once, from the shared disk cache, and says so."""
    cfg = load(files[0]).model_copy(deep=True)
    cfg = parse(dict(cfg.model_dump(), solver={'name': 'sqp', 'compiled': True}))
    MPCController(cfg)     # the compiled solver is in the cache before the workers start
    spec = loss_file.load(files[1])
    jobs = [({'costs.effort.weight[0]': v}, s, ('costs.effort.weight[0]',), s == 0)
            for v in (4.0, 1.0, 0.3) for s in (0, 1)]
    notes = []
    with Runner(cfg, spec, serial=True) as serial:
        expected = serial.map(jobs)
    with Runner(cfg, spec, workers=2, say=notes.append) as runner:
        assert 'LocalCluster (2 workers)' in runner.where
        runner.prepare(gradients=True)
        assert len(notes) == 2
        got = runner.map(jobs)
        got += runner.map(jobs[:2])
    for a, b in zip(expected + expected[:2], got):
        assert a.loss == b.loss and a.metrics == b.metrics
        np.testing.assert_array_equal(a.gradient, b.gradient)
        assert a.trajectory == b.trajectory
    workers = [n.split(': controller ready')[0] for n in notes]
    assert len(notes) == 2 and len(set(workers)) == 2, notes    # once per worker
    assert all(n.startswith('worker tcp://') and 'loaded the compiled sqp solver from the '
               'cache' in n for n in notes), notes


def test_rti_config_steps_are_accepted_on_the_deployed_loss(files, capsys):
    """An sqp_rti config: the direction is the converged solver's gradient, the loss of every
    accepted point the RTI controller's as deployed."""
    cfg, spec, tmp = files
    cfg.write_text(CONFIG.replace('name: sqp\n', 'name: sqp_rti\n'))
    code, out, err = run(capsys, 'tune', '--config', str(cfg), '--scenarios', str(spec),
                         '--serial', '--iterations', '2', '--output-dir', str(tmp))
    assert code == 0, err
    history = json.loads((tmp / 'slow.tune.json').read_text())
    assert history['loss_of'] == 'sqp_rti as deployed'
    assert history['loss_after'] < history['loss_before']
    rti = Evaluator(load(tmp / 'slow.tuned.yaml'), loss_file.load(spec), converged=False)
    deployed = np.mean([rti.run({}, s).loss for s in rti.loss.scenarios])
    assert deployed == pytest.approx(history['loss_after'], rel=1e-6)
    assert all('converged_loss' in r['details'] for r in history['iterations'])
    assert 'sqp iterated to convergence' in out
