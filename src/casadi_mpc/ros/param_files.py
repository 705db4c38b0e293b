"""The parameter files of a node's command line, checked before rcl reads them.

rcl's own parser reports a bad file as a long error from inside ``rclpy.init``, and quietly
starts a node with defaults when the file has no section for it. Here each ``--params-file``
of the ``--ros-args`` is read with PyYAML and checked the way rcl will use it: a mapping of node
sections (``mpc_node``, ``/mpc_node``, ``/ns/mpc_node``, ``/**``), each holding a
``ros__parameters`` mapping of scalars and lists of one type. A problem is a ConfigError of one
line naming the file and the key. Pure functions: no node, no DDS.
"""
import yaml

from ..core.config import ConfigError, read_yaml

WILDCARDS = ('/**', '**')


def _items(argv):
    """The --ros-args of a command line in order: ('file', path), ('param', 'name:=value'),
    ('remap', 'from:=to')."""
    inside, i, argv = False, 0, list(argv)
    while i < len(argv):
        arg = argv[i]
        if arg == '--ros-args':
            inside = True
        elif arg == '--':
            inside = False
        elif inside and i + 1 < len(argv) and arg in ('--params-file', '-p', '--param', '-r',
                                                      '--remap'):
            kind = {'--params-file': 'file', '-p': 'param', '--param': 'param'}.get(arg, 'remap')
            yield kind, argv[i + 1]
            i += 1
        i += 1


def ros_arguments(argv):
    """(parameter files, node name remap, namespace remap) of a command line's --ros-args."""
    files, name, namespace = [], None, ''
    for kind, value in _items(argv):
        if kind == 'file':
            files.append(value)
        elif kind == 'remap':
            src, _, dst = value.partition(':=')
            if src == '__node':
                name = dst
            elif src == '__ns':
                namespace = dst
    return files, name, namespace


def overrides(argv, name):
    """The parameter values a command line gives node ``name`` (or its remapped name), as
    rcl applies them: the node's sections of each --params-file (wildcard sections first, then
    the node's own) and each ``-p name:=value`` (a YAML value), later ones winning. Returns
    dotted name -> value (an empty list as []). Call :func:`check_files` first."""
    _, remapped, namespace = ros_arguments(argv)
    keys = section_keys(remapped or name, namespace)
    wildcard = [k for k in keys if '**' in k]
    out = {}
    for kind, value in _items(argv):
        if kind == 'file':
            document = read_yaml(value) or {}
            sections = [document[k] for k in wildcard + [k for k in keys if k not in wildcard]
                        if k in document]
            for section in sections:
                _flatten(section.get('ros__parameters') or {}, '', out)
        elif kind == 'param':
            key, sep, text = value.partition(':=')
            if sep and key:
                try:
                    out[key] = yaml.safe_load(text)
                except yaml.YAMLError:
                    out[key] = text
    return out


def _flatten(values, prefix, out):
    for key, value in values.items():
        if isinstance(value, dict):
            _flatten(value, prefix + str(key) + '.', out)
        else:
            out[prefix + str(key)] = value


def section_keys(name, namespace):
    """The keys of a parameter file that address node ``name`` in ``namespace``."""
    ns = '/' + namespace.strip('/') if namespace.strip('/') else ''
    keys = [ns + '/' + name, (ns + '/' + name).lstrip('/')]
    if not ns:
        keys += ['/' + name, name]
    return keys + ['/**/' + name, '**/' + name] + list(WILDCARDS)


def check_files(argv, name, require=False):
    """Check every --params-file in ``argv`` for node ``name`` (or its remapped name).

    Raises ConfigError with one line: unreadable or malformed YAML, a top level that is not a
    mapping, a section without ros__parameters, a list mixing types, no section for the node in
    any file, or (``require``) no parameter file at all."""
    files, remapped, namespace = ros_arguments(argv)
    name = remapped or name
    if not files:
        if require:
            raise ConfigError('%s: no parameter file; start it with --ros-args --params-file '
                              "<file>, e.g. the package's config/diff_drive.yaml" % name)
        return
    keys = section_keys(name, namespace)
    found = []
    for path in files:
        document = read_yaml(path)
        if document is None:
            raise ConfigError('%s: the file is empty' % path)
        if not isinstance(document, dict):
            raise ConfigError('%s: the top level must be a mapping of node sections like '
                              '"%s: ros__parameters: ...", not a %s'
                              % (path, name, type(document).__name__))
        for key, section in document.items():
            if not isinstance(section, dict) or 'ros__parameters' not in section:
                raise ConfigError('%s: section %s must hold a ros__parameters mapping'
                                  % (path, key))
            values = section['ros__parameters']
            if values is not None and not isinstance(values, dict):
                raise ConfigError('%s: %s.ros__parameters must be a mapping of parameters'
                                  % (path, key))
            _check_values(path, values or {}, '')
            if str(key) in keys:
                found.append(key)
        if not found:
            sections = ', '.join(map(str, document)) or 'none'
            last = (path, sections)
    if not found:
        raise ConfigError('%s: no section for node %s (expected one of %s; found: %s)'
                          % (last[0], name, ', '.join(keys[:2]), last[1]))


def _check_values(path, values, prefix):
    for key, value in values.items():
        dotted = prefix + str(key)
        if isinstance(value, dict):
            _check_values(path, value, dotted + '.')
        elif isinstance(value, list):
            kinds = {_kind(v) for v in value}
            if len(kinds) > 1 or None in kinds:
                raise ConfigError('%s: %s = %s: a list must hold values of one type (%s)%s'
                                  % (path, dotted, value, ', '.join(sorted(
                                      k or 'other' for k in kinds)),
                                      '; write integers as decimals, e.g. 1.0'
                                      if kinds == {'integer', 'decimal'} else ''))


def _kind(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'decimal'
    if isinstance(value, str):
        return 'string'
    return None
