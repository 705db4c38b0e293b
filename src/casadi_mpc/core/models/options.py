"""The options of a model: a pydantic sub-schema of the configuration's ``model`` section.

Every model module defines ``Options``, a subclass of :class:`ModelOptions` whose ``name`` is a
``Literal`` of the model's name, with its own fields (each with a description that gives its
unit, and ``json_schema_extra=STRUCTURAL`` when it changes the problem's shape). The
configuration picks the class by ``model.name`` (and ``model.file``): a discriminated union
over the built-in models, the installed ones (entry points ``casadi_mpc.models``) and a model
file. Fields map one-to-one onto ROS 2 parameters (``model.<field>``), so they are scalars or
flat lists of one type.
"""
from typing import Dict

from pydantic import BaseModel, ConfigDict, Field

STRUCTURAL = {'structural': True}


class ModelOptions(BaseModel):
    """Fields every model has: its name, the file it comes from, its parameter values."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True)

    name: str = Field('diff_drive', description='robot model: a built-in, an installed one '
                      '(entry point casadi_mpc.models) or the one model.file declares',
                      json_schema_extra=STRUCTURAL)
    file: str = Field('', description='path of a Python file that declares the model (a user '
                      'model; empty: built-in or installed)', json_schema_extra=STRUCTURAL)
    params: Dict[str, float] = Field(default_factory=dict, description='model parameter '
                                     'values by name (masses [kg], lengths [m], damping, '
                                     'gravity; units as the model declares)')

    @classmethod
    def declared_name(cls):
        """The name this options class declares (the default of its ``name`` field)."""
        return cls.model_fields['name'].default
