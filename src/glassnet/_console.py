"""Where output goes: a notebook, a terminal (and how wide it is), or a file."""

from __future__ import annotations

import shutil
import sys
from typing import Any

# What a progress line assumes when the terminal reports no usable width
# (``mpirun``, ``script -c`` and some CI runners report 0 columns).
FALLBACK_COLUMNS = 120


def in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (output is rendered as rich HTML/widgets)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def in_ipython() -> bool:
    """Whether an IPython shell (terminal or notebook) displays the value of a statement."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        return shell.get_ipython() is not None
    except Exception:
        return False


def statement_prints() -> bool:
    """Whether a report called as a statement should print itself: yes in a script, no at a
    Python or IPython prompt or in a notebook, which show the returned object's repr."""
    return not (in_ipython() or hasattr(sys, "ps1") or sys.flags.interactive)


def should_show(show: Any = None) -> bool:
    """``show`` as given (a bool), or, for ``None``, :func:`statement_prints`."""
    if show is None:
        return statement_prints()
    if not isinstance(show, bool):
        raise TypeError(f"show must be True or False (or None: print in scripts only), got {show!r}")
    return show


def present(result: Any, show: Any = None) -> Any:
    """Print ``result`` when :func:`should_show` says so, and return it.

    ``model.explain()``, ``model.trace(...)``, ``diagnose(...)`` and ``gradient_check(...)``
    go through it, so the line the README shows prints something in a script, as
    ``model.summary()`` does; at a prompt the returned object is shown instead, once.
    """
    if should_show(show):
        print(result)
    return result


def terminal_columns() -> int:
    """The terminal's width, or :data:`FALLBACK_COLUMNS` when it reports none (0 or less)."""
    columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
    return columns if columns > 0 else FALLBACK_COLUMNS


def resolve_verbose(verbose: Any) -> int:
    """Keras's ``verbose``: ``'auto'`` is 1 in a terminal or notebook and 2 in a file or pipe."""
    if verbose == "auto":
        if in_notebook():
            return 1
        return 1 if getattr(sys.stdout, "isatty", lambda: False)() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)
