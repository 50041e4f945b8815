"""Arguments as they arrive from the CLI, the pillar or an SLS: one reading of each kind."""

# Pacemaker's crm_is_true: the words a CIB, crm_attribute and pcs take for "on".
TRUE_WORDS = ("true", "on", "yes", "y", "1")


def as_list(value):
    """
    A list of stripped, non-empty strings.

    ``None`` → ``[]``; ``"a, b"`` (the CLI's comma list) → ``["a", "b"]``; a list or tuple
    → its items as strings.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        items = [value]
    return [str(item).strip() for item in items if str(item).strip()]


def is_true(value):
    """Whether a CLI, pillar or CIB value means "on", the way Pacemaker reads it."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in TRUE_WORDS


def cib_value(value):
    """A value as the CIB writes it: YAML ``true`` is the CIB's ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def nested_value(mapping, key, default=None, delimiter=":"):
    """
    The value at ``key`` (``a:b:c``) of a nested mapping, ``default`` where it is absent.

    Works on whatever answers ``[]``: Salt hands modules their ``__pillar__`` as a loader
    context object, not a dict, and pillar values are read from it unmasked (Salt 3008's
    ``pillar.get`` masks secrets).
    """
    value = mapping
    for part in str(key).split(delimiter):
        try:
            value = value[part]
        except (KeyError, TypeError, IndexError):
            return default
    return value
