"""A trained voice is an Airflow asset: ``metastudio://<region>/<project_id>/voices/<asset_id>``.

The tasks declare an :class:`~airflow.sdk.AssetAlias` (default :data:`VOICE_ALIAS`) in their
``outlets`` and, on success, attach the voice's asset to it with ``extra`` =
:data:`EVENT_EXTRA_KEYS`: one event per voice, emitted by the first task that reports it (a
later look at the same trained voice finds Airflow's event and emits none). The asset is named
after the voice (:func:`voice_asset_name`), so the Assets page finds it by the voice's name.
:func:`normalize_uri` is the scheme's ``asset-uris`` handler (a bad URI fails with the field and
the fix). Import-light: every Airflow component imports the handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlunsplit

from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining.version_compat import asset_event_recorded, triggering_alias_events

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

__all__ = [
    "EVENT_EXTRA_KEYS",
    "SCHEME",
    "VOICE_ALIAS",
    "create_asset",
    "normalize_uri",
    "triggering_alias_events",
    "voice_asset_name",
    "voice_uri",
]

SCHEME = "metastudio"
#: the alias every voice is attached to unless a task names another one (or none)
VOICE_ALIAS = "metastudio_voices"
#: keys of an event's ``extra`` (documented in docs/xcom-assets-lineage.md)
EVENT_EXTRA_KEYS = ("asset_id", "job_id", "voice_name", "app_user_id")

_FIX = (
    f"use {SCHEME}://<region>/<project_id>/voices/<asset_id>, "
    f"e.g. {SCHEME}://cn-north-4/0123456789abcdef0123456789abcdef/voices/5d0c..."
)


def voice_uri(region: str, project_id: str, asset_id: str) -> str:
    """Return the asset URI of a voice (each part checked)."""
    return urlunsplit(_checked(region, project_id, asset_id))


def voice_asset_name(voice_name: str | None, asset_id: str, uri: str) -> str:
    """Return the Airflow asset name of a voice: ``<voice_name> (<asset_id>)``, else ``uri``.

    Unique like the asset id, and found by the voice's name in the Assets page; a voice without
    a name is named by its URI.
    """
    name = (voice_name or "").strip()
    return f"{name} ({asset_id})" if name else uri


def normalize_uri(parts: SplitResult) -> SplitResult:
    """Validate and normalize a ``metastudio://`` URI (the ``asset-uris`` handler).

    Airflow calls it whenever such an ``Asset`` is built. The region is lower-cased; anything
    else wrong raises ``ValueError`` (a ``VoiceTrainingValidationError``: field, problem, fix).
    """
    if parts.username or parts.password or parts.port is not None:
        raise VoiceTrainingValidationError(
            "asset URI", f"{parts.netloc!r} holds user info or a port; the authority is the region", _FIX
        )
    if parts.query:
        raise VoiceTrainingValidationError("asset URI", "has a query", _FIX)
    segments = parts.path.split("/")
    if len(segments) != 4 or segments[0] != "" or segments[2] != "voices":
        raise VoiceTrainingValidationError(
            "asset URI", f"path {parts.path!r} is not /<project_id>/voices/<asset_id>", _FIX
        )
    return _checked(parts.netloc.lower(), segments[1], segments[3])


def _checked(region: str, project_id: str, asset_id: str) -> SplitResult:
    try:
        region = check.region(region, "asset URI region")
        project_id = check.project_id(project_id, "asset URI project_id")
        asset_id = check.asset_id(asset_id, "asset URI asset_id")
    except VoiceTrainingValidationError as exc:
        raise VoiceTrainingValidationError(exc.field, exc.problem, _FIX) from None
    return SplitResult(SCHEME, region, f"/{project_id}/voices/{asset_id}", "", "")


def create_asset(
    *, region: str, project_id: str, asset_id: str, extra: dict[str, Any] | None = None
) -> Asset:
    """Build the :class:`~airflow.sdk.Asset` of a voice (the ``asset-uris`` factory; named by its URI)."""
    from airflow.sdk import Asset

    return Asset(uri=voice_uri(region, project_id, asset_id), extra=extra or {})


def _named_voice_asset(uri: str, voice_name: str | None, asset_id: str, extra: dict[str, Any]) -> Asset:
    """Build the voice's asset, named after the voice.

    Named by its URI where Airflow refuses the name (a non-ASCII name on a MySQL database).
    """
    from airflow.sdk import Asset

    try:
        return Asset(name=voice_asset_name(voice_name, asset_id, uri), uri=uri, extra=extra)
    except ValueError:
        return Asset(name=uri, uri=uri, extra=extra)


def event_extra(job: Mapping[str, Any], app_user_id: str | None = None) -> dict[str, Any]:
    """Return the ``extra`` of a voice's asset event (JSON-safe, no credentials)."""
    return {
        "asset_id": job.get("asset_id"),
        "job_id": job.get("job_id"),
        "voice_name": job.get("voice_name"),
        "app_user_id": job.get("app_user_id") or app_user_id,
    }


def declare_voice_alias(task: Any, alias: str | None) -> None:
    """Add the alias to the task's ``outlets`` (once), so the task may emit voices through it."""
    if alias is None:
        return
    from airflow.sdk import AssetAlias

    outlets = list(task.outlets or [])
    if not any(isinstance(o, AssetAlias) and o.name == alias for o in outlets):
        task.outlets = [*outlets, AssetAlias(alias)]


def emit_voice_event(task: Any, context: Context, job: Mapping[str, Any]) -> Asset | None:
    """On success: attach the voice's asset to the task's alias, with the event extra.

    Unless Airflow already holds an event for that voice: one event per voice, not per look at it.
    Needs the task's ``asset_alias`` and ``hook`` (the region and project of the connection).
    Returns the asset given an event, else ``None``.
    """
    alias = getattr(task, "asset_alias", None)
    if alias is None or not job.get("asset_id"):
        return None
    if "outlet_events" not in context:  # execute() called outside a task run (a unit test)
        task.log.warning("No outlet_events in the context: no asset event for voice %s", job.get("asset_id"))
        return None
    from airflow.sdk import AssetAlias

    settings = task.hook.settings
    uri = voice_uri(settings.region, settings.project_id, job["asset_id"])
    extra = event_extra(job, getattr(task, "app_user_id", None))
    asset = _named_voice_asset(uri, job.get("voice_name"), job["asset_id"], extra)
    earlier = asset_event_recorded(asset)
    if earlier is not None:
        task.log.info(
            "Voice %s (%s) already has its asset event (%s): no new event, nothing downstream starts again",
            job.get("voice_name"),
            asset.uri,
            earlier,
        )
        return None
    context["outlet_events"][AssetAlias(alias)].add(asset, extra=extra)
    task.log.info("Voice %s is asset %s (event through alias %s)", job.get("voice_name"), asset.uri, alias)
    return asset
