"""PNG report of a closed loop: states, inputs, solve times (matplotlib, headless)."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_closed_loop(model, log, summary, path):
    x, u = np.asarray(log.x), np.asarray(log.u)
    t = np.asarray(log.t)
    st = np.asarray(log.solve_time) * 1e3
    planar = model.kind == 'base' and len(model.position) >= 2
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    if planar:
        for pred in log.predictions[::max(1, len(log.predictions) // 15)]:
            ax.plot(pred[:, 0], pred[:, 1], color='tab:orange', alpha=0.35, lw=0.8)
        ax.plot(x[:, 0], x[:, 1], 'k.-', ms=3, label='path')
        ax.plot(*summary['goal'][:2], 'r*', ms=14, label='goal')
        ax.set_xlabel('x [m]')
        ax.set_ylabel('y [m]')
        ax.set_aspect('equal', adjustable='datalim')
        ax.set_title('path (orange: predicted horizons)')
    else:
        for i in model.position:
            ax.plot(t, x[:, i], label=model.states[i].name)
            ax.axhline(summary['goal'][i], ls=':', color='gray')
        ax.set_xlabel('t [s]')
        ax.set_title('configuration [%s] (dotted: goal)' % model.states[model.position[0]].unit)
    ax.legend(loc='best', fontsize=8)
    ax = axes[0, 1]
    for i, s in enumerate(model.states):
        if planar and i in model.position[:2]:
            continue
        if not planar and i in model.position:
            continue
        ax.plot(t, x[:, i], label='%s [%s]' % (s.name, s.unit))
    ax.set_title('other states')
    ax.set_xlabel('t [s]')
    ax.legend(loc='best', fontsize=8)
    ax = axes[1, 0]
    for i, s in enumerate(model.inputs):
        ax.step(t[:-1], u[:, i], where='post', label='%s [%s]' % (s.name, s.unit))
    ax.set_title('commands')
    ax.set_xlabel('t [s]')
    ax.legend(loc='best', fontsize=8)
    ax = axes[1, 1]
    ax.plot(t[:-1], st, '.', ms=3)
    ax.axhline(np.median(st), color='k', ls='--', lw=0.8,
               label='median %.3f ms' % np.median(st))
    ax.set_yscale('log')
    ax.set_title('solve time per step [ms]')
    ax.set_xlabel('t [s]')
    ax.legend(loc='best', fontsize=8)
    fig.suptitle('%s / %s: goal %s, final error %.3g, energy %.3g %s' % (
        summary['model'], summary['solver'],
        'reached' if summary['goal_reached'] else 'NOT reached',
        summary['final_error'], summary['energy'], summary['energy_unit']))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
