"""Write a parameter file with new weights, in the format of the input.

The input is read round-trip (ruamel.yaml: comments, order, flow lists and the nesting or dotted
keys the user chose are kept); each changed key gets the new values and an end-of-line comment
with its old ones (``# was [0.1, 0.1]``). Refuses values that are not finite and positive, and
never writes onto the input file.
"""
import io
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..core.config import ConfigError

NODE_KEYS = ('mpc_node', '/mpc_node', '/**', '**')


def _yaml():
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    return y


def _section(doc, path):
    if isinstance(doc, dict):
        for key in NODE_KEYS:
            if key in doc and isinstance(doc[key], dict) and 'ros__parameters' in doc[key]:
                return doc[key]['ros__parameters']
    raise ConfigError('%s: no mpc_node ros__parameters section to write into' % path)


def _find(node, parts):
    """(mapping, key) holding the dotted key ``parts`` (nested or dotted spellings), or the
    deepest existing mapping and the remaining parts to create."""
    for n in range(len(parts), 0, -1):
        head = '.'.join(parts[:n])
        if head in node:
            if n == len(parts):
                return node, head, []
            if isinstance(node[head], dict):
                return _find(node[head], parts[n:])
    return node, None, parts


def _flow(values):
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def number(v):
    """A float with 12 significant digits (what was evaluated, short of noise)."""
    return float('%.12g' % v)


def write(source, target, changes):
    """Copy the parameter file ``source`` to ``target`` with ``changes`` = {'costs.effort.
    weight': (old list, new list)} applied and commented. Returns ``target``."""
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise ConfigError('%s: refusing to overwrite the input parameter file' % target)
    for key, (_, new) in changes.items():
        if not all(np.isfinite(v) and v >= 0 for v in new):
            raise ConfigError('%s = %s: not written (values must be finite and >= 0)'
                              % (key, list(new)))
    y = _yaml()
    with open(source) as f:
        doc = y.load(f)
    params = _section(doc, source)
    for key, (old, new) in changes.items():
        node, found, rest = _find(params, key.split('.'))
        value = _flow([number(v) for v in new])
        if found is None:
            for part in rest[:-1]:
                node[part] = CommentedMap()
                node = node[part]
            found = rest[-1]
        node[found] = value
        node.yaml_add_eol_comment('was %s' % [number(v) for v in old], found)
    buf = io.StringIO()
    y.dump(doc, buf)
    target.write_text(buf.getvalue())
    return target
