"""IPOPT (interior point) through CasADi's nlpsol, warm started from the shifted solution."""
from pydantic import Field

from .base import Options, register, STRUCTURAL
from .nlpsol import NlpsolBackend


class IpoptOptions(Options):
    mu_init: float = Field(1e-3, gt=0, le=1e3, description='initial barrier parameter (small: '
                           'the warm start is close)', json_schema_extra=STRUCTURAL)
    warm_start: bool = Field(True, description='start from the shifted last solution and its '
                             'multipliers', json_schema_extra=STRUCTURAL)


@register
class Ipopt(NlpsolBackend):
    name = 'ipopt'
    plugin = 'ipopt'
    description = 'IPOPT interior point (CasADi nlpsol)'
    rank = 0
    Options = IpoptOptions
    STATUS = {'Solve_Succeeded': 'optimal', 'Solved_To_Acceptable_Level': 'acceptable',
              'Maximum_Iterations_Exceeded': 'max_iter', 'Maximum_WallTime_Exceeded': 'timeout',
              'Infeasible_Problem_Detected': 'infeasible',
              'Search_Direction_Becomes_Too_Small': 'small_step',
              'User_Requested_Stop': 'timeout'}

    def plugin_options(self):
        o = self.options
        return {'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'ipopt.max_iter': self.max_iter,
                'ipopt.tol': self.tol, 'ipopt.max_wall_time': self.time_limit,
                'ipopt.mu_init': o.mu_init,
                'ipopt.warm_start_init_point': 'yes' if o.warm_start else 'no',
                'ipopt.warm_start_bound_push': 1e-6, 'ipopt.warm_start_mult_bound_push': 1e-6}
