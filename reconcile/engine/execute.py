"""Make one planned API call and say what it changed: the state records to commit and per-resource results.

Every executor is safe to run again after a crash or a response lost after the server committed:
RegisterMedia adopts (NewRegister=false), DeleteVideo lists ids already gone in NonExistVideoIds,
UpdateVideoInfos is idempotent, an unbind of a bucket no longer bound is already done, and
Bucket.AlreadyBind is accepted only once ListAllMediaBucket shows the binding the plan wanted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import assert_never

from reconcile.cloud.api import MediaApi
from reconcile.cloud.errors import ConflictError, NotFoundError
from reconcile.cloud.limits import parse_oss_url
from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata, VideoUpdate, input_binding_refusal
from reconcile.engine.attributes import bucket_of, media_of
from reconcile.engine.execute_result import ResourceFailure
from reconcile.engine.plan import PlannedCall, ResourceChange
from reconcile.model.media import MediaAttributes, metadata_of
from reconcile.state.model import ResourceState
from reconcile.state.store import JournalRecord, PutResource, RemoveResource


class CallRefused(Exception):
    """The call answered, but not with an outcome the plan can accept (e.g. a bucket bound differently)."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one successful call changed."""

    records: tuple[JournalRecord, ...] = ()  # state changes to commit before reporting the call done
    done: tuple[str, ...] = ()  # addresses applied (adopted ones included)
    adopted: tuple[str, ...] = ()  # RegisterMedia NewRegister=false
    remote_ids: dict[str, str] = field(default_factory=dict)  # address → MediaId
    failed: tuple[ResourceFailure, ...] = ()  # resources the API refused although the call succeeded
    note: str | None = None
    verification_calls: int = 0


async def execute_call(call: PlannedCall, changes: Mapping[str, ResourceChange], api: MediaApi) -> CallOutcome:
    """Make `call` against `api`. Raises the cloud error tree, or CallRefused."""
    planned = [changes[address] for address in call.addresses]
    match call.action:
        case "BindInputBucket":
            return await _bind(api, _only(planned, call))
        case "UnbindInputBucket":
            return await _unbind(api, _only(planned, call), replace=call.replace)
        case "RegisterMedia":
            return await _register(api, call, planned)
        case "UpdateVideoInfos":
            return await _update(api, call, planned)
        case "DeleteVideo":
            return await _delete(api, planned)
        case _:
            assert_never(call.action)


def _only(planned: list[ResourceChange], call: PlannedCall) -> ResourceChange:
    if len(planned) != 1:
        raise ValueError(f"{call.action} covers exactly one bucket, the plan gives {len(planned)}")
    return planned[0]


def resource_state(change: ResourceChange, remote_id: str | None = None) -> ResourceState:
    """The state entry for a change once applied: its last-applied attributes are the change's `after`."""
    return ResourceState(
        address=change.address,
        kind=change.kind,
        identity=change.identity,
        region=change.region,
        remote_id=remote_id or change.remote_id,
        attributes=change.after,
        prevent_destroy=change.prevent_destroy,
    )


def state_only_record(change: ResourceChange) -> JournalRecord:
    """The journal record of a change apply makes in state alone (see ResourceChange.state_only)."""
    if change.state_only == "remove":
        return RemoveResource(kind=change.kind, identity=change.identity)
    return PutResource(resource=resource_state(change))


async def _bind(api: MediaApi, change: ResourceChange) -> CallOutcome:
    referer = bucket_of(change.after).referer or None  # the API reports "no referer" as absent or empty
    record = PutResource(resource=resource_state(change))
    try:
        await api.bind_input_bucket(change.identity, referer)
    except ConflictError:
        # Bucket.AlreadyBind: success only if the existing binding is exactly the one we wanted
        # (typically our own bind, committed by the server before a dropped response was retried).
        await _verify_bound_as_input(api, change.identity, referer)
        return CallOutcome(
            records=(record,), done=(change.address,), note="already bound (verified)", verification_calls=1
        )
    return CallOutcome(records=(record,), done=(change.address,))


async def _verify_bound_as_input(api: MediaApi, bucket: str, referer: str | None) -> None:
    refusal = input_binding_refusal(await api.list_all_media_buckets(), bucket, referer)
    if refusal is not None:
        raise CallRefused(refusal)


async def _unbind(api: MediaApi, change: ResourceChange, *, replace: bool) -> CallOutcome:
    record = RemoveResource(kind="input_bucket", identity=change.identity)
    try:
        await api.unbind_input_bucket(change.identity)
    except NotFoundError:
        # Not bound (any more): the unbind we want has happened, e.g. ours before a dropped response.
        return CallOutcome(records=(record,), done=(change.address,), note="already unbound")
    # The unbind half of a replacement leaves the resource to the bind that follows.
    return CallOutcome(records=(record,), done=() if replace else (change.address,))


def file_url_of(change: ResourceChange) -> str | None:
    """The OSS file URL of a media change (None for buckets)."""
    attributes = change.after or change.before
    return attributes.file_url if isinstance(attributes, MediaAttributes) else None


def _register_metadata(change: ResourceChange) -> RegisterMetadata:
    after = media_of(change.after)
    return RegisterMetadata(file_url=after.file_url, **metadata_of(after))


def _names(url: str, identity: str) -> bool:
    """Whether the file URL an answer gives names the OSS object `identity` (its http and https URLs do)."""
    parsed = parse_oss_url(url)
    return parsed is not None and parsed.identity == identity


async def _register(api: MediaApi, call: PlannedCall, planned: list[ResourceChange]) -> CallOutcome:
    request = RegisterMediaRequest(
        metadatas=tuple(_register_metadata(change) for change in planned),
        template_group_id=call.template_group_id,
        workflow_id=call.workflow_id,
        user_data=call.user_data,
    )
    result = await api.register_media(request)
    registered = list(result.registered)
    failed_urls = list(result.failed_file_urls)
    records: list[JournalRecord] = []
    done: list[str] = []
    adopted: list[str] = []
    remote_ids: dict[str, str] = {}
    failures: list[ResourceFailure] = []
    for change in planned:
        url = file_url_of(change) or ""
        media = next((m for m in registered if _names(m.file_url, change.identity)), None)
        if media is None:
            reason = (
                "RegisterMedia could not register this file (FailedFileURLs): check that the object exists in OSS "
                "and has a media extension"
                if any(_names(f, change.identity) for f in failed_urls)
                else "RegisterMedia answered without this file in RegisteredMediaList or FailedFileURLs"
            )
            failures.append(ResourceFailure(change.address, reason, change.location, url))
            continue
        registered.remove(media)
        records.append(PutResource(resource=resource_state(change, media.media_id)))
        done.append(change.address)
        remote_ids[change.address] = media.media_id
        if not media.new_register:
            adopted.append(change.address)
    return CallOutcome(
        records=tuple(records),
        done=tuple(done),
        adopted=tuple(adopted),
        remote_ids=remote_ids,
        failed=tuple(failures),
    )


def _video_update(change: ResourceChange) -> VideoUpdate:
    """The fields the plan found changed, with their declared values: UpdateVideoInfos sends only those."""
    changed = set(change.changed)
    values = metadata_of(media_of(change.after))
    return VideoUpdate(video_id=str(change.remote_id), **{k: v for k, v in values.items() if k in changed})


def _without_remote_id(planned: list[ResourceChange]) -> list[ResourceFailure]:
    return [
        ResourceFailure(c.address, "the plan has no MediaId for this media", c.location, file_url_of(c))
        for c in planned
        if not c.remote_id
    ]


async def _update(api: MediaApi, call: PlannedCall, planned: list[ResourceChange]) -> CallOutcome:
    missing = _without_remote_id(planned)
    if missing:
        raise CallRefused(f"{call.action}: {missing[0].message} ({missing[0].address}); run `reconcile plan` again")
    result = await api.update_video_infos([_video_update(change) for change in planned])
    gone, forbidden = set(result.non_exist_video_ids), set(result.forbidden_video_ids)
    records: list[JournalRecord] = []
    done: list[str] = []
    failures: list[ResourceFailure] = []
    for change in planned:
        url = file_url_of(change) or ""
        if change.remote_id in gone:
            # Deleted outside reconcile since the plan: forget it, so the next plan registers it again.
            records.append(RemoveResource(kind="media", identity=change.identity))
            message = f"media {change.remote_id} no longer exists in VOD; run `reconcile apply` again to re-register it"
            failures.append(ResourceFailure(change.address, message, change.location, url))
        elif change.remote_id in forbidden:
            message = f"VOD refused to update media {change.remote_id} (ForbiddenVideoIds): check the RAM permissions"
            failures.append(ResourceFailure(change.address, message, change.location, url))
        else:
            records.append(PutResource(resource=resource_state(change)))
            done.append(change.address)
    return CallOutcome(records=tuple(records), done=tuple(done), failed=tuple(failures))


async def _delete(api: MediaApi, planned: list[ResourceChange]) -> CallOutcome:
    missing = _without_remote_id(planned)
    if missing:
        raise CallRefused(f"DeleteVideo: {missing[0].message} ({missing[0].address}); run `reconcile plan` again")
    result = await api.delete_video([str(change.remote_id) for change in planned])
    forbidden = set(result.forbidden_video_ids)
    records: list[JournalRecord] = []
    done: list[str] = []
    failures: list[ResourceFailure] = []
    for change in planned:
        if change.remote_id in forbidden:
            message = f"VOD refused to delete media {change.remote_id} (ForbiddenVideoIds): check the RAM permissions"
            failures.append(ResourceFailure(change.address, message, change.location, file_url_of(change)))
            continue
        # NonExistVideoIds are gone already, which is what the delete wanted.
        records.append(RemoveResource(kind="media", identity=change.identity))
        done.append(change.address)
    return CallOutcome(records=tuple(records), done=tuple(done), failed=tuple(failures))
