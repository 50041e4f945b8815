"""
Which values are secrets, and how they read in anything this extension returns or logs.

One rule for every module, state and runner: a name is a secret when it contains one of
``SECRET_WORDS``, when one of its parts (split at ``_``, ``-``, ``.``) is one of
``SECRET_PARTS``, or when it is a fence agent parameter of ``FENCE_AGENT_SECRETS``, bare
(``apikey=`` on a ``pcs stonith create`` line) or as IML's node attribute
(``0_fence_apikey``). Fence agents take passwords, SNMP communities, IPMI Kg keys, API
keys and tokens under many names, and sites add their own; the rule errs on masking.
"""

import re

MASK = "********"

# The parameters of fence agents whose value is a secret, per agent. An agent's metadata
# (``fence_X -o metadata``) has no secret flag: this table is read from the metadata of
# fence-agents 4.12 (the parameters described as a password, passphrase, SNMP community
# or privacy password, Kg key, API key, access/secret key or token); the broad rule above
# covers the agents not listed and names sites add. ``fence_chroma`` (IML) passes its
# node's ``N_fence_*`` attributes to the agent it names, passwords included.
_LOGIN = ("passwd", "passwd_script", "password", "password_script")
_IPMI = (*_LOGIN, "hexadecimal_kg")
_SNMP = (*_LOGIN, "community", "snmp_priv_passwd", "snmp_priv_passwd_script")
_CLOUD = ("access_key", "secret_key")
FENCE_AGENT_SECRETS = {
    "fence_chroma": _LOGIN,
    **dict.fromkeys(("fence_apc", "fence_virsh", "fence_ilo", "fence_ilo_ssh"), _LOGIN),
    **dict.fromkeys(("fence_drac5", "fence_redfish", "fence_rhevm", "fence_vmware_rest"), _LOGIN),
    **dict.fromkeys(("fence_ipmilan", "fence_ipmilanplus", "fence_idrac", "fence_imm"), _IPMI),
    **dict.fromkeys(("fence_ilo3", "fence_ilo4", "fence_ilo5"), _IPMI),
    **dict.fromkeys(("fence_apc_snmp", "fence_ifmib", "fence_eaton_snmp", "fence_ipdu"), _SNMP),
    **dict.fromkeys(("fence_cisco_mds", "fence_ibmblade", "fence_intelmodular"), _SNMP),
    **dict.fromkeys(("fence_emerson", "fence_lindypdu", "fence_tripplite_snmp"), _SNMP),
    "fence_aws": _CLOUD,
    "fence_aliyun": _CLOUD,
    "fence_ecloud": ("apikey",),
    "fence_ibm_vpc": ("apikey",),
    "fence_ibm_powervs": ("token",),
}
FENCE_SECRET_PARAMETERS = frozenset(n for names in FENCE_AGENT_SECRETS.values() for n in names)
# IML's node attributes of a fence agent's parameter: ``<agent index>_fence_<parameter>``.
_FENCE_ATTRIBUTE = re.compile(r"^\d+_fence_(?P<parameter>.+)$")

# Substrings: password, passwd_script, login_passwd, snmp_priv_passwd, secret_key, …
SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "community", "credential")
# Whole parts of a name: hexadecimal_kg, ipmi_kg, api_key, auth_token, priv_prot_key…
SECRET_PARTS = frozenset({"kg", "key", "token", "psk"})


def _parts(lowered):
    for sep in "-.":
        lowered = lowered.replace(sep, "_")
    return set(lowered.split("_"))


def is_secret(name):
    """Whether an attribute or argument name holds a secret."""
    lowered = str(name or "").lower()
    if any(word in lowered for word in SECRET_WORDS):
        return True
    fence = _FENCE_ATTRIBUTE.match(lowered)
    if (fence.group("parameter") if fence else lowered) in FENCE_SECRET_PARAMETERS:
        return True
    return bool(_parts(lowered) & SECRET_PARTS)


def masked(name, value):
    """``value``, or ``MASK`` when ``name`` is a secret and there is a value to hide."""
    return MASK if value is not None and is_secret(name) else value


def masked_mapping(values):
    """A copy of ``{name: value}`` with every secret masked."""
    return {name: masked(name, value) for name, value in values.items()}


def masked_argv(argv):
    """An argv for display: ``name=value`` arguments with a secret name read ``name=MASK``."""
    shown = []
    for arg in argv:
        name, sep, _value = str(arg).partition("=")
        shown.append(f"{name}={MASK}" if sep and is_secret(name) else str(arg))
    return shown
