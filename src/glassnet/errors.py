"""Every exception and warning class glassnet raises, in one place.

glassnet also raises Python's own ``TypeError`` and ``ValueError`` for a bad argument,
with a message that names the parameter, what was expected and what was given.
"""

from __future__ import annotations

__all__ = ["BackendError", "DiagnosticWarning", "ModelFileError", "NotBuiltError", "NotCompiledError"]


class NotCompiledError(RuntimeError):
    """The model must be compiled (``model.compile(loss=..., optimizer=...)``) first."""


class NotBuiltError(RuntimeError):
    """The model does not know its input shape yet, so it has no weights."""


class BackendError(RuntimeError):
    """A backend cannot be used here (library missing, no GPU)."""


class ModelFileError(ValueError):
    """A model or weights file cannot be read: truncated, corrupted, tampered or unsupported."""


class DiagnosticWarning(UserWarning):
    """Issued by :class:`~glassnet.diagnostics.DiagnosticsMonitor` when it sees a problem
    during training."""
