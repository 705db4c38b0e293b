"""`casadi-mpc docs`: the README's parameter tables, generated from the schemas.

The pydantic schemas (``core/config.py``, ``core/sim_config.py``, ``core/estimator_config.py``,
``core/safety_filter_config.py``) are the one place that defines every parameter's name, type,
default, range, unit and meaning; this renders them as the Markdown tables between the README's
``<!-- parameters:begin -->`` and ``<!-- parameters:end -->`` markers. ``--check`` (and a unit
test) fails when the README is stale; ``--write`` rewrites it.
"""
import argparse
import sys
import typing
from pathlib import Path

from pydantic import BaseModel

BEGIN, END = '<!-- parameters:begin -->', '<!-- parameters:end -->'
README = Path(__file__).resolve().parents[3] / 'README.md'


def _is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _type_text(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return ' | '.join('`%s`' % c for c in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return '%s[]' % _type_text(item)
    return {bool: 'bool', int: 'int', float: 'double', str: 'string'}.get(
        annotation, getattr(annotation, '__name__', str(annotation)))


def _range_text(field):
    parts = []
    for m in field.metadata:
        for attr, op in (('ge', '≥'), ('gt', '>'), ('le', '≤'), ('lt', '<')):
            value = getattr(m, attr, None)
            if value is not None:
                parts.append('%s %s' % (op, value))
    return ', '.join(parts)


def _default_text(field):
    default = field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return ''
    if default == [] or default == {}:
        return 'empty'
    if isinstance(default, bool):
        return 'true' if default else 'false'
    if isinstance(default, str):
        return '`%s`' % default if default else "''"
    return '`%s`' % (default,)


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def rows(schema, prefix=''):
    """(key, type, default, range, description) for every leaf of ``schema``, dotted; dict
    fields of models appear once with a ``<name>`` placeholder."""
    out = []
    for name, field in schema.model_fields.items():
        key = prefix + name
        annotation = field.annotation
        if _is_model(annotation):
            out += rows(annotation, key + '.')
            continue
        if typing.get_origin(annotation) is dict:
            _, value_type = typing.get_args(annotation)
            placeholder = '%s.<name>' % key
            if _is_model(value_type):
                out += rows(value_type, placeholder + '.')
            else:
                out.append((placeholder, _type_text(value_type), '', '',
                            field.description or ''))
            continue
        text = field.description or ''
        if (field.json_schema_extra or {}).get('structural'):
            text += ' (read-only)'
        out.append((key, _type_text(annotation), _default_text(field), _range_text(field), text))
    return out


def table(schema, shared=None):
    """The Markdown table of ``schema``; ``shared`` = (prefix, text): the keys under that
    prefix are documented elsewhere, one row says so."""
    lines = ['| key | type | default | range | meaning |', '|---|---|---|---|---|']
    said = False
    for row in rows(schema):
        if shared and row[0].startswith(shared[0]):
            if not said:
                lines.append('| `%s*` | | | | %s |' % (shared[0], shared[1]))
                said = True
            continue
        lines.append('| `%s` | %s | %s | %s | %s |' % tuple(_cell(c) for c in row))
    return '\n'.join(lines)


def terms_table():
    from ..core.costs import TERMS
    lines = ['| term | kind | weights | meaning |', '|---|---|---|---|']
    for name, cls in TERMS.items():
        per = cls.weights_per or 'scalar'
        doc = (sys.modules[cls.__module__].__doc__ or '').strip().splitlines()
        lines.append('| `%s` | %s | one per %s | %s |' % (
            name, cls.kind, per if per != 'scalar' else 'term (scalar)',
            _cell(doc[0] if doc else '')))
    return '\n'.join(lines)


def render():
    """The generated part of the README (between the markers, markers excluded)."""
    from ..core.config import MPCConfig
    from ..core.estimator_config import EstimatorConfig
    from ..core.safety_filter_config import SafetyFilterConfig
    from ..core.sim_config import SimConfig
    return '\n'.join([
        '', '**`mpc_node`** (`mpc_node: ros__parameters:`; read-only keys fix the problem '
        'structure and cannot change at run time):', '', table(MPCConfig), '',
        '**Cost terms** (`costs.<term>`; the set of terms is fixed at start, their weights '
        'are not):', '', terms_table(), '',
        '**`sim_node`** (`sim_node: ros__parameters:`):', '',
        table(SimConfig, ('model.', 'the robot model, as for mpc_node')), '',
        '**`estimator_node`** (`estimator_node: ros__parameters:`):', '',
        table(EstimatorConfig, ('model.', 'the robot model, as for mpc_node')), '',
        '**`safety_filter_node`** (`safety_filter_node: ros__parameters:`):', '',
        table(SafetyFilterConfig, ('model.', 'the robot model, as for mpc_node')), ''])


def replace_region(text, generated):
    if BEGIN not in text or END not in text:
        raise ValueError('the README has no %s ... %s region' % (BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + '\n' + generated + '\n' + END + tail


def main(argv=None):
    ap = argparse.ArgumentParser(prog='casadi-mpc docs', description=__doc__.split('\n\n')[0])
    ap.add_argument('--readme', default=str(README), help='README to check or rewrite')
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument('--check', action='store_true', help='exit 1 when the README is stale')
    mode.add_argument('--write', action='store_true', help='rewrite the README region')
    args = ap.parse_args(argv)
    generated = render()
    if not (args.check or args.write):
        print(generated)
        return 0
    path = Path(args.readme)
    current = path.read_text()
    wanted = replace_region(current, generated)
    if args.check:
        if wanted != current:
            print('%s: the parameter tables are stale; run: ./run docs --write' % path)
            return 1
        return 0
    if wanted != current:
        path.write_text(wanted)
        print('%s: parameter tables rewritten' % path)
    return 0
