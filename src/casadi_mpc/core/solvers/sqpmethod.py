"""CasADi's sqpmethod with the Gauss-Newton Hessian and the qrqp active-set QP solver: ``sqp``
iterates to convergence, ``sqp_rti`` takes one step per solve from the last iterate."""
import numpy as np
from pydantic import Field

from .base import Options, register, STRUCTURAL
from .nlpsol import gauss_newton_hessian, NlpsolBackend

QP_OPTIONS = {'print_iter': False, 'print_header': False, 'print_info': False,
              'error_on_fail': False}


class SqpOptions(Options):
    max_iter_ls: int = Field(10, ge=0, le=100, description='line-search steps per iteration',
                             json_schema_extra=STRUCTURAL)
    min_step_size: float = Field(1e-12, gt=0, le=1e-2, description='a step shorter than this '
                                 'ends the iteration', json_schema_extra=STRUCTURAL)


@register
class Sqp(NlpsolBackend):
    name = 'sqp'
    plugin = 'sqpmethod'
    description = 'Gauss-Newton SQP to convergence (CasADi sqpmethod + qrqp)'
    rank = 2
    Options = SqpOptions
    STATUS = {'SUCCESS': 'optimal', 'Solve_Succeeded': 'optimal', 'MAX_ITER': 'max_iter',
              'Maximum_Iterations_Exceeded': 'max_iter',
              'Search_Direction_Becomes_Too_Small': 'small_step',
              'User_Requested_Stop': 'timeout'}

    def plugin_options(self):
        return self.sqp_options(self.max_iter, self.options.max_iter_ls,
                                self.options.min_step_size)

    def sqp_options(self, max_iter, max_iter_ls, min_step_size):
        return {'qpsol': 'qrqp', 'qpsol_options': QP_OPTIONS, 'print_header': False,
                'print_iteration': False, 'print_status': False, 'max_iter': max_iter,
                'tol_pr': self.tol, 'tol_du': self.tol,
                'hess_lag': gauss_newton_hessian(self.ocp), 'min_step_size': min_step_size,
                'max_iter_ls': max_iter_ls}


class SqpRtiOptions(Options):
    """One full Gauss-Newton step per solve: nothing to choose beyond the common settings."""


@register
class SqpRti(Sqp):
    name = 'sqp_rti'
    description = 'one Gauss-Newton SQP step per solve (real-time iteration, CasADi sqpmethod)'
    rank = 3
    Options = SqpRtiOptions
    deadline_callback = False   # one iteration: nothing to stop

    def plugin_options(self):
        return self.sqp_options(1, 0, 1e-12)

    def warm_start(self, p, guess):
        # real-time iteration: continue from the last iterate, as the compiled kernel (and
        # acados) do, so RTI settles exactly where the converged solver does. qrqp gets the
        # bound multipliers as its active-set guess, not the constraint multipliers: given
        # both, it fails on the 7-DOF arm
        if self.w is None or guess is not None:
            return super().warm_start(p, guess)
        return self.w, np.zeros(self.ocp.ng), self.lam_x

    def outcome(self, out, lbg, ubg):
        g = np.asarray(out['g'], float).ravel()
        violation = np.max(np.maximum(np.maximum(lbg - g, g - ubg), 0.0), initial=0.0)
        iterations = int(self.fn.stats().get('iter_count', 0))
        return ('rti' if np.isfinite(violation) else 'error'), max(iterations, 1)
