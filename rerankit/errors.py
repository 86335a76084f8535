"""Exceptions with messages that name the file, line and id at fault.

Every input problem rerankit detects is raised as a subclass of :class:`RerankitError`,
so callers can catch one type, and the CLI can print the message without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class RerankitError(Exception):
    """Base class of every error rerankit raises on bad input or configuration."""


class InputFormatError(RerankitError, ValueError):
    """A file (or in-memory structure) does not have the expected format.

    The message names the source, the 1-based line number when there is one, and the
    offending text, so the user can open the file at the right place.
    """

    def __init__(self, source: str | Path, message: str, line: int | None = None) -> None:
        self.source = str(source)
        self.line = line
        #: the message without the source and line, for errors that restate it elsewhere
        self.reason = message
        where = f"{self.source}, line {line}" if line is not None else self.source
        super().__init__(f"{where}: {message}")


class OutputWriteError(RerankitError, OSError):
    """Writing an output failed (disk full, file too large, no permission); the target was
    left as it was before, since rerankit writes through a temporary file or folder."""

    def __init__(self, target: str | Path, cause: OSError) -> None:
        self.target = str(target)
        # a failure inside a nested atomic write keeps the innermost reason
        self.reason = getattr(cause, "reason", None) or cause.strerror or str(cause)
        super().__init__(f"could not write {self.target}: {self.reason}. Nothing was "
                         f"written: {self.target} is as it was before")


class ConfigFieldError(ValueError):
    """A bad value of one config field, raised where the value is checked (a component's
    constructor-parameter check, the cut-off rule); ``field`` is its path below the
    section being validated (``("params", "variant")``), which the config reader appends
    to the section's own path (``retriever.params.variant``)."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        self.field = tuple(field)
        super().__init__(message)


class UnknownMeasureError(RerankitError, ValueError):
    """A measure name that rerankit does not know."""


class UnknownComponentError(RerankitError, ValueError):
    """A component name (retriever, reranker, LLM backend ...) that no registry entry has;
    the message lists the known names of that kind."""


class VerificationError(RerankitError):
    """rerankit's values differ from trec_eval's (pytrec_eval) on the same input."""


class LLMServerError(RerankitError):
    """An LLM server failed or answered something unusable (after all retries); the message
    names the URL, the HTTP status and the server's own words."""


class MissingDependencyError(RerankitError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional package '{package}'. "
            f"Install it with: pip install 'rerankit[{extra}]'"
        )
