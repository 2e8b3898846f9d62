"""The one error type of the Dockerfile frontend.

Every user mistake in a Dockerfile (syntax, bad flags, bad expansion) surfaces as a
`DockerfileError` whose message is one line, `Dockerfile:LINE: message`, so the CLI can print it
as is. Errors raised before the location is known (the shell lexer works on bare words) carry no
line; the caller that knows where the word came from attaches it with `located()`.
"""

from __future__ import annotations

from imgtool.errors import ImgtoolError


class DockerfileError(ImgtoolError):
    """A Dockerfile that BuildKit would reject; `str()` is `FILE:LINE: message`."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        filename: str = "Dockerfile",
        end_line: int | None = None,
    ) -> None:
        self.message = message.replace("\n", " ")
        self.line = line
        self.end_line = end_line if end_line is not None else line
        self.filename = filename
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.filename}:{self.line}: {self.message}"

    def located(self, line: int, filename: str = "Dockerfile", end_line: int | None = None) -> DockerfileError:
        """Return a copy that points at `line` unless this error already knows its place.

        Why: the innermost code that notices a problem rarely knows the line; the outermost
        that does must not overwrite a more precise location found deeper down.
        """
        if self.line is not None:
            return self
        return type(self)(self.message, line, filename, end_line)


class ExpansionError(DockerfileError):
    """A word the shell lexer cannot expand: bad substitution, `${v:?}` on an unset variable."""
