"""
State: a persistent hostid exists before any ZFS pool can be imported.

.. code-block:: yaml

    persistent-hostid:
      hostid.persistent: []
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "hostid"


def __virtual__():
    if "hostid.make_persistent" in __salt__:
        return __virtualname__
    return (False, "the hostid execution module is not loaded")


def persistent(name="/etc/hostid", hostid=None):
    """
    Make the hostid in effect (or ``hostid``, e.g. the one the node's backup recorded)
    persistent in ``name``; an existing file is never changed, and one that holds another
    value than ``hostid`` fails the state.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["hostid.make_persistent"](path=name, test=test, hostid=hostid)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if not outcome["changed"]:
        ret["comment"] = f"{name} already holds hostid {outcome['hostid']}"
        return ret
    ret["changes"] = {"hostid": {"old": None, "new": outcome["hostid"]}}
    if test:
        ret["result"] = None
        ret["comment"] = f"{name} would be written with the hostid {outcome['hostid']}"
    else:
        ret["comment"] = f"{name} written with the hostid {outcome['hostid']}"
    return ret
