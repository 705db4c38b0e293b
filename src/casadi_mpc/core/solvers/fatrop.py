"""fatrop (structure-exploiting interior point) through CasADi's nlpsol."""
from pydantic import Field

from .base import Options, register, STRUCTURAL
from .nlpsol import NlpsolBackend


class FatropOptions(Options):
    mu_init: float = Field(1e-3, gt=0, le=1e3, description='initial barrier parameter',
                           json_schema_extra=STRUCTURAL)


@register
class Fatrop(NlpsolBackend):
    name = 'fatrop'
    plugin = 'fatrop'
    description = 'fatrop structure-exploiting interior point (CasADi nlpsol)'
    rank = 1
    Options = FatropOptions
    deadline_callback = False   # fatrop takes no iteration callback: the limit is checked after
    STATUS = {'SUCCESS': 'optimal', 'Solve_Succeeded': 'optimal', 'MAX_ITER': 'max_iter',
              'Maximum_Iterations_Exceeded': 'max_iter'}

    def plugin_options(self):
        return {'structure_detection': 'auto', 'equality': self.ocp.equality,
                'fatrop.print_level': 0, 'fatrop.max_iter': self.max_iter,
                'fatrop.tol': self.tol, 'fatrop.mu_init': self.options.mu_init}
