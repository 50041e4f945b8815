"""
Commands as this extension runs them: each with a timeout, its failure read and told the
same way everywhere, and one deadline shared by the steps of a wait or of a state.

Modules run their commands through Salt's ``cmd.run_all`` with ``timeout=``; this module
reads what it returned (Salt kills a command at its timeout and answers exit 1 with
``"<argv> : Timed out after N seconds"`` on stdout) and words the error. A command that
carried a secret (on stdin, or in its output) never has its output repeated in an error:
the message names the command, masked, and says to run it by hand.
"""

import inspect
import re
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import masking

# A command that should answer at once (cibadmin, crm_mon, pcs without --wait, dkms status).
DEFAULT_TIMEOUT = 120
_TIMED_OUT = re.compile(r" : Timed out after [0-9.]+ seconds\s*$")


def cli_example(*commands):
    """Decorator: append Salt's "CLI Example" block of ``commands`` to a docstring."""

    def add(func):
        lines = "\n".join(f"    {command}" for command in commands)
        doc = inspect.cleandoc(func.__doc__)
        func.__doc__ = f"{doc}\n\nCLI Example:\n\n.. code-block:: bash\n\n{lines}\n"
        return func

    return add


def seconds(value):
    """``value`` (a number of seconds) as an error message shows it: ``5``, ``0.5``."""
    return f"{round(float(value), 1):g}"


def timed_out(res):
    """Whether ``cmd.run_all`` returned ``res`` because it killed the command at its timeout."""
    return (
        res.get("retcode") not in (0, None)
        and not (res.get("stderr") or "").strip()
        and bool(_TIMED_OUT.search(str(res.get("stdout") or "")))
    )


def shown(argv):
    """An argv as an error message shows it, secrets masked."""
    return " ".join(masking.masked_argv(argv))


def failure_message(argv, res, timeout=None, secret=False):
    """
    What to say about a command that failed: killed at its timeout, or its exit status and
    output (stderr, else stdout). With ``secret`` (the command carried a secret on stdin
    or in its output) the output is left out.
    """
    command = f"`{shown(argv)}`"
    if timed_out(res):
        limit = f" within {seconds(timeout)}s" if timeout else ""
        return f"{command} did not finish{limit} and was stopped"
    if secret:
        return (
            f"{command} failed (exit {res.get('retcode')}); its output is not shown because "
            "the command carried a secret: run it by hand to see why"
        )
    detail = (res.get("stderr") or res.get("stdout") or "").strip()
    return f"{command} failed (exit {res.get('retcode')}): {detail}"


class Deadline:
    """
    One overall time limit, started when made: a wait's polls and a state's steps each get
    the time left (``left``, ``timeout``) instead of the whole limit again.
    """

    def __init__(self, limit):
        try:
            self.limit = float(limit)
        except (TypeError, ValueError):
            raise SaltInvocationError(f"timeout {limit!r} is not a number of seconds") from None
        if self.limit <= 0:
            raise SaltInvocationError(f"timeout must be more than 0 seconds, not {limit!r}")
        self.end = time.monotonic() + self.limit

    def left(self):
        """Seconds left, 0 once the deadline has passed."""
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return self.left() <= 0

    def timeout(self, what):
        """The time left as the next step's timeout; CommandExecutionError when none is."""
        left = self.left()
        if left <= 0:
            raise CommandExecutionError(f"the {seconds(self.limit)}s timeout ran out before {what}")
        return left


def poll_until(check, timeout, interval, what):
    """
    Call ``check(time_left)`` until it answers ``(True, state)``; return that state. One
    deadline for the whole wait: each poll gets only the time left (its commands' timeout),
    and a poll that fails once the deadline has passed (it hung until its timeout) ends the
    wait as a timeout, its error as the last state. CommandExecutionError on timeout.
    """
    deadline = Deadline(timeout)
    state = "nothing seen yet"
    while True:
        left = deadline.left()
        if left <= 0:
            raise CommandExecutionError(
                f"timed out after {seconds(timeout)}s waiting for {what}; last state: {state}"
            )
        try:
            done, state = check(left)
        except CommandExecutionError as exc:
            if not deadline.expired():
                raise
            state = str(exc)
            continue
        if done:
            return state
        time.sleep(min(float(interval), deadline.left()))
