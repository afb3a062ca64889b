"""Problems found in manifests, each pinned to `path:line:col`, and the error that carries them all."""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.manifest.desired import SourceLocation


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem in a manifest. Ordered by path, then line, then column: the order it is printed in."""

    path: str
    line: int  # 1-based
    col: int  # 1-based, in characters
    message: str

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.path, self.line, self.col)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ManifestError(Exception):
    """The manifests are invalid. Carries every problem found, sorted, so a user fixes them in one pass."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def files(self) -> tuple[str, ...]:
        """The files (or paths) with problems, in order."""
        return tuple(dict.fromkeys(d.path for d in self.diagnostics))
