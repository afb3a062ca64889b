"""The plan-time object check: every media the plan registers must exist in OSS, or the plan has an error at
its manifest line (RegisterMedia would only list it in FailedFileURLs at apply).

Only planned registrations are checked, so a converged plan makes no OSS call. Per bucket, the files are
grouped by directory (the key up to its last `/`):

- a directory with one new file: HeadObject;
- more: ListObjectsV2 of the files' longest common prefix (`delimiter=/`, 1,000 keys a page), which sees up to
  1,000 files a call. While more pages would be needed than files are left to find, the rest are looked up
  with HeadObject instead (a few new files in a directory of a million stay a few calls).

A file the listing did not show is looked up with HeadObject before the plan calls it missing: a plan is
refused on HeadObject's word only (the emulator's --auto-objects files, which cannot be listed, are found so).
AccessDenied does not fail the plan: the listing falls back to HeadObject; a denied HeadObject leaves that
bucket unchecked with a warning naming the permission to grant.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from reconcile.cloud.errors import ForbiddenError, NotFoundError
from reconcile.cloud.limits import parse_oss_url
from reconcile.cloud.oss_client import OssClient
from reconcile.cloud.oss_wire import LIST_MAX_KEYS
from reconcile.engine.attributes import media_of
from reconcile.engine.plan import Plan, PlanWarning, ResourceChange

T = TypeVar("T")


# What the check reads OSS with: HeadObject and ListObjectsV2 (tests give it the emulator's transport).
ObjectLookup: TypeAlias = OssClient


@dataclass(frozen=True, slots=True)
class _Wanted:
    change: ResourceChange
    file_url: str
    bucket: str
    region: str
    key: str


class _Denied(Exception):
    def __init__(self, operation: str, permission: str) -> None:
        super().__init__(operation)
        self.operation = operation
        self.permission = permission


async def check_objects(plan: Plan, oss: ObjectLookup, *, concurrency: int = 8) -> Plan:
    """`plan` with an error for each planned registration whose file is not in OSS, and a warning per bucket
    the check was denied. Raises the client's CloudError for anything else that failed."""
    wanted = [w for w in (_wanted(c) for c in plan.changes if c.action == "register") if w is not None]
    if not wanted:
        return plan
    slots = asyncio.Semaphore(concurrency)
    by_bucket: dict[tuple[str, str], list[_Wanted]] = defaultdict(list)
    for item in wanted:
        by_bucket[(item.bucket, item.region)].append(item)
    results = await asyncio.gather(
        *(_check_bucket(oss, bucket, region, items, slots) for (bucket, region), items in sorted(by_bucket.items()))
    )
    errors: list[PlanWarning] = []
    warnings: list[PlanWarning] = []
    for missing, denied in results:
        errors += [_missing_error(item) for item in missing]
        if denied is not None:
            warnings.append(denied)
    if not errors and not warnings:
        return plan
    errors.sort(key=lambda e: (e.location.path, e.location.line, e.location.col) if e.location else ("", 0, 0))
    return plan.model_copy(update={"errors": plan.errors + tuple(errors), "warnings": plan.warnings + tuple(warnings)})


def _wanted(change: ResourceChange) -> _Wanted | None:
    file_url = media_of(change.after).file_url
    obj = parse_oss_url(file_url)
    if obj is None:
        return None
    return _Wanted(change, file_url, obj.bucket, obj.region or change.region, obj.key)


async def _check_bucket(
    oss: ObjectLookup, bucket: str, region: str, items: list[_Wanted], slots: asyncio.Semaphore
) -> tuple[list[_Wanted], PlanWarning | None]:
    """The files of one bucket that are not there, and the warning when the bucket could not be checked."""
    directories: dict[str, list[_Wanted]] = defaultdict(list)
    for item in items:
        directories[item.key[: item.key.rfind("/") + 1]].append(item)
    try:
        unlisted = await _all(
            [_list_directory(oss, bucket, region, group, slots) for _, group in sorted(directories.items())]
        )
        to_head = [item for group in unlisted for item in group]
        found = await _all([_limited(slots, _exists(oss, bucket, region, item.key)) for item in to_head])
    except _Denied as denied:
        return [], _denied_warning(bucket, region, len(items), denied)
    return [item for item, there in zip(to_head, found, strict=True) if not there], None


async def _all(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Every call's result; when any failed, the first failure, raised once all have ended (none is left
    running unobserved)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


async def _list_directory(
    oss: ObjectLookup, bucket: str, region: str, group: list[_Wanted], slots: asyncio.Semaphore
) -> list[_Wanted]:
    """The files of one directory a listing did not show (all of them for a single file: no listing)."""
    if len(group) < 2:
        return group
    remaining = {item.key: item for item in group}
    first, last_wanted = min(remaining), max(remaining)
    prefix = _common_prefix(first, last_wanted)  # of every key: they sort between these two
    token: str | None = None
    pages = 0
    try:
        while True:
            page = await _limited(
                slots,
                oss.list_objects_v2(bucket, region, prefix=prefix, delimiter="/", max_keys=LIST_MAX_KEYS,
                                    continuation_token=token),
            )  # fmt: skip
            pages += 1
            for info in page.objects:
                remaining.pop(info.key, None)
            token = page.next_token
            seen_past = bool(page.objects) and page.objects[-1].key >= last_wanted
            if token is None or not remaining or seen_past or pages >= len(remaining):
                break
    except ForbiddenError as exc:
        if exc.code != "AccessDenied":
            raise
        # No oss:ListObjects: HeadObject (oss:GetObject) may still be allowed.
    except NotFoundError as exc:
        if exc.code != "NoSuchBucket":
            raise
        # HeadObject says so for each file (and finds the emulator's --auto-objects files, in any bucket).
    return list(remaining.values())


def _common_prefix(a: str, b: str) -> str:
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size]


async def _exists(oss: ObjectLookup, bucket: str, region: str, key: str) -> bool:
    try:
        return await oss.head_object(bucket, region, key) is not None
    except NotFoundError as exc:
        if exc.code == "NoSuchBucket":
            return False
        raise
    except ForbiddenError as exc:
        if exc.code == "AccessDenied":
            raise _Denied("HeadObject", "oss:GetObject") from None
        raise


async def _limited(slots: asyncio.Semaphore, call: Awaitable[T]) -> T:
    async with slots:
        return await call


def _missing_error(item: _Wanted) -> PlanWarning:
    return PlanWarning(
        address=item.change.address,
        message=f"{item.file_url} is not in OSS (bucket {item.bucket}, key {item.key}): upload it first",
        location=item.change.location,
    )


def _denied_warning(bucket: str, region: str, count: int, denied: _Denied) -> PlanWarning:
    files = f"{count} file{'s' if count != 1 else ''}"
    return PlanWarning(
        address=None,
        message=(
            f"could not check that the {files} to register from OSS bucket {bucket} ({region}) exist: "
            f"{denied.operation} was denied (AccessDenied). Grant {denied.permission} (and oss:ListObjects, for "
            "fewer calls) on the bucket, or plan with --skip-object-check to not check"
        ),
    )
