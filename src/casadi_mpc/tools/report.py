"""PNG report of a closed loop: states, inputs, solve times (matplotlib, headless).

Draws whatever the log holds: no steps, a single one, predictions of any length; rows of the
wrong size are left out, and a panel without data says so.
"""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _rows(values, size):
    """The entries of ``values`` that are ``size`` finite-or-nan floats, as an (n, size)
    array, with the indices kept."""
    keep, rows = [], []
    for i, v in enumerate(values):
        try:
            a = np.asarray(v, float).ravel()
        except (TypeError, ValueError):
            continue
        if a.size == size:
            keep.append(i)
            rows.append(a)
    return np.array(keep, int), (np.vstack(rows) if rows else np.zeros((0, size)))


def _times(t, index):
    t = np.asarray(t, float).ravel()
    return np.array([t[i] if i < t.size else np.nan for i in index], float)


def _paths(predictions):
    """The predicted horizons that are 2-D with at least two columns (x, y)."""
    out = []
    for p in predictions:
        try:
            a = np.asarray(p, float)
        except (TypeError, ValueError):
            continue
        if a.ndim == 2 and a.shape[0] and a.shape[1] >= 2:
            out.append(a)
    return out


def _no_data(ax, what='no recorded steps'):
    ax.text(0.5, 0.5, what, ha='center', va='center', transform=ax.transAxes, color='gray')


def _legend(ax):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc='best', fontsize=8)


def plot_closed_loop(model, log, summary, path):
    ix, x = _rows(log.x, model.nx)
    iu, u = _rows(log.u, model.nu)
    tx, tu = _times(log.t, ix), _times(log.t, iu)
    st = np.asarray(log.solve_time, float).ravel() * 1e3
    ts = _times(log.t, range(st.size))
    solved = np.isfinite(st) & (st > 0)
    goal = np.asarray(summary.get('goal', []), float).ravel()
    planar = model.kind == 'base' and len(model.position) >= 2
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    if planar:
        preds = _paths(log.predictions)
        for pred in preds[::max(1, len(preds) // 15)]:
            ax.plot(pred[:, 0], pred[:, 1], color='tab:orange', alpha=0.35, lw=0.8)
        if len(x):
            ax.plot(x[:, 0], x[:, 1], 'k.-', ms=3, label='path')
        if goal.size >= 2:
            ax.plot(goal[0], goal[1], 'r*', ms=14, label='goal')
        ax.set_xlabel('x [m]')
        ax.set_ylabel('y [m]')
        ax.set_aspect('equal', adjustable='datalim')
        ax.set_title('path (orange: predicted horizons)')
    else:
        for i in model.position:
            if len(x):
                ax.plot(tx, x[:, i], label=model.states[i].name)
            if i < goal.size:
                ax.axhline(goal[i], ls=':', color='gray')
        ax.set_xlabel('t [s]')
        ax.set_title('configuration [%s] (dotted: goal)' % model.states[model.position[0]].unit)
    if not len(x):
        _no_data(ax)
    _legend(ax)
    ax = axes[0, 1]
    for i, s in enumerate(model.states):
        if (planar and i in model.position[:2]) or (not planar and i in model.position):
            continue
        if len(x):
            ax.plot(tx, x[:, i], label='%s [%s]' % (s.name, s.unit))
    if not len(x):
        _no_data(ax)
    ax.set_title('other states')
    ax.set_xlabel('t [s]')
    _legend(ax)
    ax = axes[1, 0]
    for i, s in enumerate(model.inputs):
        if len(u):
            ax.step(tu, u[:, i], where='post', marker='.' if len(u) == 1 else None,
                    label='%s [%s]' % (s.name, s.unit))
    if not len(u):
        _no_data(ax)
    ax.set_title('commands')
    ax.set_xlabel('t [s]')
    _legend(ax)
    ax = axes[1, 1]
    if solved.any():
        median = float(np.median(st[solved]))
        ax.plot(ts[solved], st[solved], '.', ms=3)
        ax.axhline(median, color='k', ls='--', lw=0.8, label='median %.3f ms' % median)
        ax.set_yscale('log')
    else:
        _no_data(ax, 'no solves recorded')
    ax.set_title('solve time per step [ms]')
    ax.set_xlabel('t [s]')
    _legend(ax)
    fig.suptitle('%s / %s: goal %s, final error %.3g, energy %.3g %s' % (
        summary.get('model', model.name), summary.get('solver', ''),
        'reached' if summary.get('goal_reached') else 'NOT reached',
        summary.get('final_error', float('nan')), summary.get('energy', float('nan')),
        summary.get('energy_unit', '')))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
