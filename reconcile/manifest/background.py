"""Load the manifests in a child process while the caller reads the state and the account.

Loading 100,000 manifest entries is pure CPU (YAML composition and validation, ~2.5 s); reading the state
and refreshing the account keep this process busy with I/O and the HTTP client, and the service busy
answering. With two cores they can run side by side:

    async with BackgroundLoad(paths, env) as manifests:    # starts the child
        ...                                                # read the state, refresh
        desired = await manifests.result()                 # the DesiredState, or the same ManifestError

The child is this module in a new interpreter (`serve_child`), importing this very package: it gets the
paths and the environment on stdin, runs `load_desired_state` exactly as this process would, and answers
on stdout with the DesiredState (its 100,000 media as plain rows: rebuilding them costs half what
unpickling the objects does) or the ManifestError's diagnostics. It shares nothing else with this
process: no file descriptors (a state lock stays this process's own), no threads, no event loop. Whenever
the child cannot answer (it could not start, crashed, or was killed), `result()` loads the manifests in
this process instead: the same answer, or the same exception, only later. The answer is unpickled: it
comes from our own child, over its own pipe.

Small manifest sets are loaded in-process (`worth_loading_aside`): a child costs ~0.1 s of CPU to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

from reconcile.manifest.desired import DesiredBucket, DesiredMedia, DesiredState, SourceLocation, Warning_
from reconcile.manifest.diagnostics import ManifestError
from reconcile.manifest.loader import load_desired_state
from reconcile.manifest.sources import find_manifest_files
from reconcile.model.media import MEDIA_FIELDS, MEDIA_NAMES, Attributes, MediaAttributes, Role, ValueKind, media_values
from reconcile.util.gc import gc_paused

log = logging.getLogger("reconcile.manifest")

# Below this many bytes of manifests (about 10,000 media entries), loading takes less than starting a child.
BACKGROUND_MIN_BYTES = 1024 * 1024
# The child's scheduling priority, relative to the parent's (see serve_child).
BACKGROUND_NICENESS = 10

# The child imports this very package (not one the working directory or PYTHONPATH would find first): an
# answer from another version of the loader would be a wrong answer.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); from reconcile.manifest.background import serve_child; serve_child()"
)

# A DesiredMedia's fields in order, its attributes as their values in MEDIA_FIELDS order (`media_values`),
# its location's path, line and column last.
MediaRow = tuple[str, str, str, str, str, tuple[Any, ...], bool, str | None, str, int, int]
# A DesiredState as the child sends it: buckets, the number of media rows, files, digest, warnings. The rows
# follow the answer in chunks of ROWS_PER_CHUNK, each its own pickle, so that neither process ever holds all
# of them at once.
Header = tuple[tuple[DesiredBucket, ...], int, tuple[str, ...], str, tuple[Warning_, ...]]
ROWS_PER_CHUNK = 10_000


class _CutShort(Exception):
    """The child's answer ended before all its rows."""


def worth_loading_aside(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether the manifests under `paths` are big enough for a child process to pay for itself."""
    found, _ = find_manifest_files(paths)
    total = 0
    for path in found:
        try:
            total += os.stat(path).st_size
        except OSError:
            continue  # the loader reports it
    return total >= BACKGROUND_MIN_BYTES


class BackgroundLoad:
    """`load_desired_state(paths, env)` running in a child process, from entering the context until its
    result (see the module docstring); leaving the context stops a child still at work."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.env = None if env is None else dict(env)  # None: the environment (the child inherits it)
        self.started = time.perf_counter()
        self.elapsed: float | None = None  # seconds from start() to the result, once there is one
        self.cpu: float | None = None  # CPU seconds the loading took (in the child, or here after a fallback)
        self._process: asyncio.subprocess.Process | None = None
        self._exchange: asyncio.Task[tuple[bytes, bytes]] | None = None
        # The child writes its answer to a file, which is unpickled from there: through a pipe, the answer
        # (14 MB at 50,000 media) would be gathered in a buffer and copied once more before unpickling.
        self._answers: BinaryIO | None = None

    async def __aenter__(self) -> BackgroundLoad:
        """Start the child (`env` None: it loads with the environment it inherits, as load_desired_state would)."""
        self.started = time.perf_counter()
        request = pickle.dumps((self.paths, self.env), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._answers = tempfile.TemporaryFile()  # noqa: SIM115 (closed by aclose)
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _CHILD_BOOTSTRAP, _PACKAGE_ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=self._answers, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:
            log.debug("cannot start a process to load the manifests (%s): loading them here", exc)
            return self
        # Drained from now on, so the child never waits on a full pipe while this process is busy elsewhere.
        self._exchange = asyncio.create_task(self._process.communicate(request))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def result(self, known: Callable[[], Mapping[str, KnownMedia]] | None = None) -> DesiredState:
        """The manifests' DesiredState; raises ManifestError as load_desired_state does.

        `known` gives, once the answer is in, the media the caller already holds by identity (a state's):
        a media's text equal to theirs (address, identity, file URL, title) is taken from them, so it is
        held once, not twice."""
        answer = await self._answer()
        if answer is None:
            cpu = time.process_time()
            try:
                return load_desired_state(self.paths, env=self.env)
            finally:
                self.cpu = time.process_time() - cpu
                self.elapsed = time.perf_counter() - self.started
        kind, payload, self.cpu = answer
        self.elapsed = time.perf_counter() - self.started
        if kind == "invalid":
            raise ManifestError(payload)
        try:
            with gc_paused():
                return unpack(payload, self._chunks(payload[1]), known() if known else None)
        except _CutShort as exc:
            log.debug("the manifest process answered garbage (%s): loading the manifests here", exc.__cause__)
            return load_desired_state(self.paths, env=self.env)

    def _chunks(self, count: int) -> Iterator[list[MediaRow]]:
        """The answer's rows, a chunk at a time, read from the file as they are wanted."""
        assert self._answers is not None
        while count > 0:
            try:
                chunk: list[MediaRow] = pickle.load(self._answers)
            except Exception as exc:
                raise _CutShort from exc
            count -= len(chunk)
            yield chunk

    async def _answer(self) -> tuple[str, Any, float] | None:
        if self._process is None or self._exchange is None:
            return None
        _, err = await self._exchange
        if self._process.returncode == 0 and self._answers is not None:
            try:
                self._answers.seek(0)
                answer: tuple[str, Any, float] = pickle.load(self._answers)
                return answer
            except Exception as exc:  # an answer cut short: the fallback gives the real one
                log.debug("the manifest process answered garbage (%s): loading the manifests here", exc)
                return None
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        log.debug("the manifest process exited %s (%s): loading them here", self._process.returncode, tail[0])
        return None

    async def aclose(self) -> None:
        """Stop the child if it is still working (the caller failed first, or was cancelled) and reap it."""
        if self._answers is not None:
            self._answers.close()
        if self._process is None:
            return
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited since the check
                self._process.kill()
        if self._exchange is not None:
            self._exchange.cancel()
            await asyncio.gather(self._exchange, return_exceptions=True)
        await self._process.wait()


def pack(media: Sequence[DesiredMedia]) -> Iterator[list[MediaRow]]:
    """`media` as rows (see `unpack`), ROWS_PER_CHUNK at a time: the child holds one chunk of rows beside its
    desired state, never a second copy of all of it (at 1,000,000 media, about 250 MB).

    Values most media repeat (region, bucket, storage location, registration settings, tags, file path) are
    made one object each: pickle then sends each once, and the parent holds one copy instead of one per
    media (about 15 MB at 50,000 media)."""
    shared: dict[Any, Any] = {}
    one = shared.setdefault
    for start in range(0, len(media), ROWS_PER_CHUNK):
        yield [
            (
                m.address, one(m.region, m.region), m.identity, one(m.oss_bucket, m.oss_bucket),
                one(m.storage_location, m.storage_location), tuple(_shared_values(m.attributes, one)),
                m.prevent_destroy, m.name, one(m.location.path, m.location.path), m.location.line, m.location.col,
            )
            for m in media[start : start + ROWS_PER_CHUNK]
        ]  # fmt: skip


def _shared_values(attributes: MediaAttributes, one: Callable[[Any, Any], Any]) -> Iterator[Any]:
    """The attribute values, those many media repeat (tags and the registration settings) made one object each."""
    for spec, value in zip(MEDIA_FIELDS, media_values(attributes), strict=True):
        yield one(value, value) if spec.role is Role.REGISTRATION or spec.kind is ValueKind.TEXT_LIST else value


class KnownMedia(Protocol):
    """A media the caller holds already (a state's resource), whose text the desired state may share."""

    @property
    def address(self) -> str: ...

    @property
    def identity(self) -> str: ...

    @property
    def attributes(self) -> Attributes: ...


def unpack(
    header: Header, chunks: Iterable[list[MediaRow]], known: Mapping[str, KnownMedia] | None = None
) -> DesiredState:
    """The DesiredState `pack` packed (its rows are used up); a media's address, identity and attributes equal to
    those of the media `known` holds under its identity are that media's objects (see `result`): a converged
    media's attributes are one object for the state and the manifests."""
    buckets, _, files, digest, warnings = header
    find = (known or {}).get
    media: list[DesiredMedia] = []
    for rows in chunks:
        rows.reverse()
        while rows:  # each row is freed once its media is built: its memory is the next rows'
            media.append(_media(rows.pop(), find))
    return DesiredState(buckets=buckets, media=tuple(media), files=files, digest=digest, warnings=warnings)


def _media(r: MediaRow, find: Callable[[str], KnownMedia | None]) -> DesiredMedia:
    address, identity, values = r[0], r[2], r[5]
    held = find(identity)
    if held is not None and isinstance(held.attributes, MediaAttributes):
        identity = held.identity
        address = held.address if held.address == address else address
        if media_values(held.attributes) == values:  # the common case: declared as last applied, one copy for both
            return DesiredMedia(address, r[1], identity, r[3], r[4], held.attributes, *r[6:8], SourceLocation(*r[8:]))
    attributes = MediaAttributes(**dict(zip(MEDIA_NAMES, values, strict=True)))
    return DesiredMedia(address, r[1], identity, r[3], r[4], attributes, *r[6:8], SourceLocation(*r[8:]))


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The child's side: one request in, one answer out."""
    paths, env = pickle.load(requests)
    try:
        desired = load_desired_state(paths, env=env)
    except ManifestError as exc:
        answer: tuple[str, Any, float] = ("invalid", exc.diagnostics, time.process_time())
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        header: Header = (desired.buckets, len(desired.media), desired.files, desired.digest, desired.warnings)
        pickle.dump(("loaded", header, time.process_time()), answers, protocol=pickle.HIGHEST_PROTOCOL)
        for chunk in pack(desired.media):
            pickle.dump(chunk, answers, protocol=pickle.HIGHEST_PROTOCOL)
    answers.flush()


def serve_child() -> None:
    """The child process: answer the request on stdin, on stdout, then exit."""
    if hasattr(os, "nice"):
        # Background work: the parent needs the answer only once its refresh is done, and its client (and a
        # local service) should get the cores first while both are busy.
        os.nice(BACKGROUND_NICENESS)
    serve(sys.stdin.buffer, sys.stdout.buffer)
    # The answer is written and flushed, and the child holds nothing else: exit without tearing down the
    # 100,000 objects it built, which the parent would otherwise wait ~0.2 s for.
    os._exit(0)
