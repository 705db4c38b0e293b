"""PNGs of `tune` (loss per iteration, each weight's path, rollouts before and after) and of
`pareto` (the task-energy front and its knee)."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_tuning(history, before, after, tolerance, path):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    its = history['iterations']
    ax = axes[0]
    ax.plot([r['iteration'] for r in its], [r['loss'] for r in its], 'o-')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title('loss (%s)' % history['stop'])
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    labels = history['labels']
    ax.set_prop_cycle(color=plt.cm.tab20(np.linspace(0, 1, max(len(labels), 2))))
    for label in labels:
        ax.semilogy([r['iteration'] for r in its], [r['weights'][label] for r in its],
                    label=label)
    ax.set_xlabel('iteration')
    ax.set_ylabel('weight')
    ax.set_title('%d weights' % len(labels))
    if len(labels) <= 20:
        ax.legend(fontsize=6, loc='best')
    ax.grid(True, alpha=0.3)
    ax = axes[2]
    for outcomes, style, name in ((before, '--', 'before'), (after, '-', 'after')):
        for o in outcomes:
            ax.plot(o.trajectory['t'], o.trajectory['error'], style,
                    label='%s %s (L %.4g)' % (o.scenario, name, o.loss))
    ax.axhline(tolerance, color='gray', lw=0.8)
    ax.set_xlabel('t [s]')
    ax.set_ylabel('goal error')
    ax.set_title('rollouts before / after')
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_front(points, front, knee, path, task_name, energy_name):
    fig, ax = plt.subplots(figsize=(6.5, 5))
    e = np.array([p['energy'] for p in points])
    t = np.array([p['task'] for p in points])
    ax.plot(e, t, 'o', color='0.6', label='sweep')
    order = sorted(front, key=lambda i: e[i])
    ax.plot(e[order], t[order], 'o-', label='front')
    ax.plot(e[knee], t[knee], '*', ms=16, label='knee (scale %.3g)' % points[knee]['scale'])
    for p in points:
        ax.annotate('%.3g' % p['scale'], (p['energy'], p['task']), fontsize=6,
                    textcoords='offset points', xytext=(3, 3))
    ax.set_xlabel(energy_name)
    ax.set_ylabel(task_name)
    ax.set_title("task-energy front over the energy weights' scale")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
