"""
The pure library of the Lustre HA pair upgrade: records, plans, argv builders and formats.

Execution modules, state modules and runners import it alike (``from lustre_upgrade_lib
import cib``), so the master can plan for a node that cannot run this extension (an EL6
server in its old life). Nothing here runs a command, reads Salt's dunders or the pillar:
the functions take data (XML text, file paths, dicts) and return data, and are tested on
real artifacts without a cluster.

It travels two ways and the import line is the same on both:

- ``saltutil.sync_all`` (or ``sync_utils``) copies ``_utils/lustre_upgrade_lib`` into the
  minion's or master's ``extmods/utils``; Salt's loader puts that directory on the import
  path while it loads execution modules, states and runners;
- ``pip install .`` installs it as a top-level package.

This file imports nothing on purpose: Salt's utils loader may load the package under its
own name too, and the submodules refer to each other relatively.
"""

import importlib
import os
import sys

_LOADED_MTIMES = {}


def reload_changed():
    """
    Reload the library's modules whose file changed since they were imported.

    A running salt-minion keeps imported modules in ``sys.modules``: after a
    ``saltutil.sync_all`` that brought a new library, the reloaded Salt modules would
    otherwise call the old one until the minion restarts. Salt modules call this from
    ``__virtual__``, which runs again on every module refresh. Returns the names reloaded.
    """
    reloaded = []
    prefix = __name__ + "."
    # A copy: another thread of the process may import while this one iterates.
    for name, module in sorted(sys.modules.copy().items()):
        if not name.startswith(prefix) or module is None:
            continue
        path = getattr(module, "__file__", None)
        try:
            mtime = os.stat(path).st_mtime_ns
        except (OSError, TypeError):
            continue
        known = _LOADED_MTIMES.setdefault(name, mtime)
        if mtime != known:
            importlib.reload(module)
            _LOADED_MTIMES[name] = mtime
            reloaded.append(name)
    return reloaded
