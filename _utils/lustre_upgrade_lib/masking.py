"""
Which values are secrets, and how they read in anything this extension returns or logs.

One rule for every module, state and runner: a name is a secret when it contains one of
``SECRET_WORDS``, or when one of its parts (split at ``_``, ``-``, ``.``) is one of
``SECRET_PARTS``. Fence agents take passwords, SNMP communities, IPMI Kg keys and
private keys under many names, and sites add their own; the rule errs on masking.
"""

MASK = "********"

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
