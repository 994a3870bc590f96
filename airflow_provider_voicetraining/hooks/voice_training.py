"""``VoiceTrainingHook``: authenticated calls to the MetaStudio voice-training API.

Sync methods (``get_job``...) run on ``requests`` with one session per hook; async methods
(``aget_job``...) run on a shared ``httpx`` pool and never block the event loop. Both go through
the same request core (:mod:`airflow_provider_voicetraining.client.core`): same signing, same
retries, same errors.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from airflow_provider_voicetraining import _CONN_FIELDS, CONN_TYPE, DEFAULT_CONN_ID, compat
from airflow_provider_voicetraining import validation as check
from airflow_provider_voicetraining.client import api
from airflow_provider_voicetraining.client.async_driver import AsyncDriver
from airflow_provider_voicetraining.client.messages import ApiCall, FileBody
from airflow_provider_voicetraining.client.retry import RetryPolicy
from airflow_provider_voicetraining.client.sync_driver import SyncDriver
from airflow_provider_voicetraining.connection import ConnectionSettings, parse_connection
from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingTransportError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining.models import (
    AuditResult,
    CreatedJob,
    FailureDetails,
    UploadUrls,
    VoiceTrainingJob,
)
from airflow_provider_voicetraining.secret import Redactor
from airflow_provider_voicetraining.states import COMMITTABLE_STATES, JobState
from airflow_provider_voicetraining.vocabulary import MAX_PAGE

T = TypeVar("T")

BaseHook = compat.base_hook_class()

#: How far the service's ``create_time`` may lag our clock when matching an unanswered create.
CREATE_CLOCK_TOLERANCE = 300.0


def console_url(settings: ConnectionSettings, job_id: str) -> str:
    """Where a person looks at the job: the emulator's page for loopback endpoints, else the
    MetaStudio console of the region (the console has no documented per-job deep link, so the
    job id rides along as a query parameter)."""
    job_id = check.job_id(job_id)
    host = settings.host.rsplit(":", 1)[0] if not settings.host.startswith("[") else settings.host
    if check.is_loopback_host(host.strip("[]")):
        return f"{settings.endpoint}/_emulator/console/jobs/{job_id}"
    return (
        f"https://console.huaweicloud.com/metastudio/?region={settings.region}&jobId={job_id}#/voiceModeling"
    )


class VoiceTrainingHook(BaseHook):  # type: ignore[misc,valid-type]
    """Interact with MetaStudio voice training.

    :param metastudio_conn_id: the ``huaweicloud_metastudio`` connection (default
        ``metastudio_default``).
    :param app_user_id: default ``X-App-UserId`` for this hook's calls (overrides the
        connection's; each method accepts its own override too).
    :param timeout: per-request timeout in seconds (overrides the connection's ``timeout``).
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_delay: base back-off in seconds (overrides the connection's ``retry_delay``).
    """

    conn_name_attr = "metastudio_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Huawei Cloud MetaStudio"

    def __init__(
        self,
        metastudio_conn_id: str = DEFAULT_CONN_ID,
        *,
        app_user_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_delay: float | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        if not isinstance(metastudio_conn_id, str) or not metastudio_conn_id.strip():
            raise VoiceTrainingValidationError(
                "metastudio_conn_id", "is empty", f"pass a connection id such as {DEFAULT_CONN_ID!r}"
            )
        self.metastudio_conn_id = metastudio_conn_id
        self._overrides: dict[str, Any] = {}
        if app_user_id is not None:
            self._overrides["app_user_id"] = check.app_user_id(app_user_id)
        if timeout is not None:
            self._overrides["timeout"] = check.positive_number(timeout, "timeout", maximum=600, default=30)
        if max_retries is not None:
            self._overrides["max_retries"] = check.bounded_int(
                max_retries, "max_retries", minimum=0, maximum=20, default=5
            )
        if retry_delay is not None:
            self._overrides["retry_delay"] = check.positive_number(
                retry_delay, "retry_delay", maximum=300, default=1.0
            )
        self._settings: ConnectionSettings | None = None
        self._sync: SyncDriver | None = None
        self._async: AsyncDriver | None = None
        self._redact = Redactor()

    def __repr__(self) -> str:
        return f"VoiceTrainingHook(metastudio_conn_id={self.metastudio_conn_id!r})"

    # ------------------------------------------------------------------ connection form (3.0/3.1)
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.0/3.1 read this; 3.2+ reads the same data from ``get_provider_info()``."""
        from airflow_provider_voicetraining import get_provider_info

        return dict(get_provider_info()["connection-types"][0]["ui-field-behaviour"])

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Widgets for Airflow 3.0/3.1 forms, built from the same ``conn-fields`` metadata."""
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import PasswordField, StringField
        except ImportError:
            return {}
        widgets: dict[str, Any] = {}
        for name, spec in _CONN_FIELDS.items():
            if spec["schema"].get("format") == "password":
                widgets[name] = PasswordField(lazy_gettext(spec["label"]), widget=BS3PasswordFieldWidget())
            else:
                widgets[name] = StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget())
        return widgets

    # ------------------------------------------------------------------ settings and drivers
    def _finish_settings(self, settings: ConnectionSettings) -> ConnectionSettings:
        if self._overrides:
            settings = settings.with_overrides(**self._overrides)
        for secret in settings.secrets():
            self._redact.add(secret)
        self._settings = settings
        return settings

    @property
    def settings(self) -> ConnectionSettings:
        """The validated connection (loaded once; secrets registered with Airflow's masker)."""
        if self._settings is None:
            settings = parse_connection(self.get_connection(self.metastudio_conn_id))
            for secret in settings.secrets():
                compat.mask_secret(secret.reveal())
            self._finish_settings(settings)
        assert self._settings is not None
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """Like :attr:`settings`, without blocking the event loop."""
        if self._settings is None:
            conn = await compat.aget_connection(self.metastudio_conn_id)
            settings = await compat.arun_sync(parse_connection, conn)
            for secret in settings.secrets():
                await compat.amask_secret(secret.reveal())
            self._finish_settings(settings)
        assert self._settings is not None
        return self._settings

    def _policy(self, settings: ConnectionSettings) -> RetryPolicy:
        return RetryPolicy(
            max_retries=settings.max_retries,
            base_delay=settings.retry_delay,
            max_delay=max(settings.retry_max_delay, settings.retry_delay),
            rng=random.Random(),
        )

    @property
    def _driver(self) -> SyncDriver:
        if self._sync is None:
            settings = self.settings
            self._sync = SyncDriver(settings, self._policy(settings), self._redact)
        return self._sync

    async def _adriver(self) -> AsyncDriver:
        if self._async is None:
            settings = await self.aget_settings()
            self._async = AsyncDriver(settings, self._policy(settings), self._redact)
        return self._async

    def _call(self, build: Any, *args: Any, **kwargs: Any) -> Any:
        """Validate and build the call first (nothing is sent on bad input), then run it."""
        call: ApiCall[Any] = build(self.settings, *args, **kwargs)
        return self._driver.execute(call)

    async def _acall(self, build: Any, *args: Any, **kwargs: Any) -> Any:
        driver = await self._adriver()
        call: ApiCall[Any] = build(driver.settings, *args, **kwargs)
        return await driver.execute(call)

    @property
    def requests_sent(self) -> int:
        """HTTP requests this hook sent (retries and token minting included)."""
        return (self._sync.requests_sent if self._sync else 0) + (
            self._async.requests_sent if self._async else 0
        )

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    def __enter__(self) -> VoiceTrainingHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> VoiceTrainingHook:
        await self._adriver()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ API (sync)
    def get_job(self, job_id: str, *, app_user_id: str | None = None) -> VoiceTrainingJob:
        """``GET .../user/jobs/{job_id}``: the job's detail, including ``state`` and ``asset_id``."""
        return self._call(api.show_job, job_id, app_user_id)  # type: ignore[no-any-return]

    def list_jobs(
        self,
        *,
        state: str | Iterable[str] | None = None,
        job_type: str | None = None,
        voice_name: str | None = None,
        batch_name: str | None = None,
        tag: str | None = None,
        job_id: str | None = None,
        create_since: Any = None,
        create_until: Any = None,
        update_since: Any = None,
        update_until: Any = None,
        sort_key: str | None = "create_time",
        sort_dir: str | None = "asc",
        is_ondemand_resource: bool | None = None,
        page_size: int = MAX_PAGE,
        max_items: int | None = None,
        app_user_id: str | None = None,
    ) -> Iterator[VoiceTrainingJob]:
        """Iterate over matching jobs, page by page (``page_size`` <= 100), lazily.

        Arguments are checked when this is called, before the first page is requested."""
        pager = self._pager(locals())
        driver = self._driver

        def pages() -> Iterator[VoiceTrainingJob]:
            while (call := pager.next_call()) is not None:
                yield from pager.accept(driver.execute(call))

        return pages()

    def create_job(
        self,
        edition: str,
        *,
        voice_name: str,
        app_user_id: str | None = None,
        **fields: Any,
    ) -> CreatedJob:
        """Create a job of ``edition`` (``basic``, ``middle``, ``advance``, ``third_party``).

        ``fields``: ``sex`` (FEMALE/MALE), ``language`` (CN/EN), ``tag``, ``description``,
        ``create_type`` (PACKAGE/SEGMENT), ``phone``, ``dhtms_job_id``, ``batch_name``,
        ``output_language``, ``custom_text``, ``is_ondemand_resource``, ``supported_service``
        (``vocabulary.CREATE_FIELDS``); each is checked before anything is sent.

        Returns the ``job_id`` and the presigned upload URLs. When the answer is lost (5xx,
        connection reset, read timeout, garbled body) the job may or may not exist, and sending
        the create again could make two. The hook looks first: a single uncommitted
        (``CREATING``) job with this ``voice_name`` (and app user) created since the attempt
        began is adopted, with fresh upload URLs; if there is none the create is sent again
        (at most ``max_retries`` times); if there are several it stops rather than guess.
        """
        call = api.create_job(
            self.settings, edition, voice_name=voice_name, app_user_id=app_user_id, **fields
        )
        driver = self._driver
        attempt = 0
        while True:
            started = time.time()
            try:
                return driver.execute(call)
            except (VoiceTrainingServerError, VoiceTrainingTransportError, VoiceTrainingResponseError) as exc:
                if isinstance(exc, VoiceTrainingTransportError) and not exc.may_have_reached:
                    raise
                adopted = self._adopt_unacknowledged(voice_name, app_user_id, since=started, error=exc)
                if adopted is not None:
                    return adopted
                if not driver.policy.can_retry(attempt):
                    raise
                wait = driver.policy.backoff(attempt)
                self.log.warning(
                    "Create of %r got no usable answer (%s) and made no job; sending it again in %.1fs",
                    voice_name,
                    type(exc).__name__,
                    wait,
                )
                attempt += 1
                time.sleep(wait)

    def _adopt_unacknowledged(
        self, voice_name: str, app_user_id: str | None, *, since: float, error: Exception
    ) -> CreatedJob | None:
        """The job an unanswered create made, if exactly one matches; None if none does."""
        candidates = [
            job
            for job in self.list_jobs(
                voice_name=voice_name,
                state="CREATING",
                sort_dir="desc",
                max_items=20,
                app_user_id=app_user_id,
            )
            if job.voice_name == voice_name
            and job.create_time is not None
            and job.create_time.timestamp() >= since - CREATE_CLOCK_TOLERANCE
        ]
        if not candidates:
            return None
        if len(candidates) > 1:
            raise VoiceTrainingError(
                f"Create of {voice_name!r} got no usable answer ({error}) and {len(candidates)} uncommitted "
                f"jobs with that name appeared meanwhile ({', '.join(j.job_id for j in candidates)}); "
                "refusing to guess which is ours. Delete the extra jobs or use distinct voice names."
            ) from error
        job = candidates[0]
        self.log.warning(
            "Create of %r got no usable answer (%s), but job %s was created: using it",
            voice_name,
            type(error).__name__,
            job.job_id,
        )
        return CreatedJob(
            job_id=job.job_id, upload_urls=self.get_upload_urls(job.job_id, app_user_id=app_user_id)
        )

    def commit_job(self, job_id: str, *, app_user_id: str | None = None, **overrides: Any) -> None:
        """Commit the job for review and training (after its data was uploaded).

        ``overrides`` may set ``tag``, ``description``, ``sex``, ``voice_name``, ``language``,
        ``phone``, ``app_user_id`` (body field: pass it as ``overrides={"app_user_id": ...}``
        via ``**``), ``output_language``, ``custom_text``. If a retried commit is refused
        because an earlier attempt already went through, the job's state proves it and the
        call succeeds.
        """
        call = api.commit_job(self.settings, job_id, overrides, app_user_id)
        try:
            self._driver.execute(call)
        except VoiceTrainingAPIError as exc:
            if exc.status_code != 400 or exc.attempts < 2:
                raise
            job = self.get_job(job_id, app_user_id=app_user_id)
            if job.state in COMMITTABLE_STATES:
                raise
            self.log.info(
                "Commit of %s was retried; the job is %s, so an earlier attempt went through",
                job_id,
                job.state,
            )

    def delete_job(self, job_id: str, *, app_user_id: str | None = None, missing_ok: bool = False) -> None:
        """Delete the job. With ``missing_ok`` (or after a retried delete) a 404 is success."""
        try:
            self._call(api.delete_job, job_id, app_user_id)
        except VoiceTrainingNotFoundError as exc:
            if not (missing_ok or exc.attempts > 1):
                raise

    def get_audit_result(self, job_id: str, *, app_user_id: str | None = None) -> AuditResult:
        """Why a job failed review (``AUDIT_FAILED``), file by file."""
        return self._call(api.show_audit_result, job_id, app_user_id)  # type: ignore[no-any-return]

    def get_upload_urls(self, job_id: str, *, app_user_id: str | None = None) -> UploadUrls:
        """Fresh presigned upload URLs (e.g. to re-upload after ``AUDIT_FAILED``)."""
        return self._call(api.show_uploading_address, job_id, app_user_id)  # type: ignore[no-any-return]

    def upload_training_data(
        self, url: str, path: str | os.PathLike[str], content_type: str = "application/zip"
    ) -> str | None:
        """Stream a local file to a presigned upload URL (``PUT``); returns the ETag."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise VoiceTrainingValidationError(
                "training package", f"{path!r} is not a file", "give the path of the zip to upload"
            )
        body = FileBody(path=path, size=os.path.getsize(path))
        return self._driver.execute(api.upload(url, body, content_type))

    def get_failure_details(self, job: VoiceTrainingJob, *, app_user_id: str | None = None) -> FailureDetails:
        """Failure details of a failed job; for ``AUDIT_FAILED`` the audit errors are fetched too
        (best effort: a failing audit call does not hide the job's own failure)."""
        audit = None
        if job.state == JobState.AUDIT_FAILED.value:
            try:
                audit = self.get_audit_result(job.job_id, app_user_id=app_user_id)
            except VoiceTrainingError as exc:
                self.log.warning("Could not fetch the audit result of %s: %s", job.job_id, exc)
        return FailureDetails.from_job(job, audit, self.console_url(job.job_id))

    def console_url(self, job_id: str) -> str:
        return console_url(self.settings, job_id)

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call (list one job). Used by the UI's *Test* button."""
        try:
            settings = self.settings
            page = self._driver.execute(api.list_jobs_page(settings, api.JobFilters.build(), limit=1))
        except VoiceTrainingError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, self._redact(f"{type(exc).__name__}: {exc}") or "error"
        return True, (
            f"Connected to {settings.endpoint} as {settings.auth_type}; project {settings.project_id} "
            f"has {page.count} voice-training job(s)."
        )

    def _pager(self, params: Mapping[str, Any]) -> api.Pager:
        filter_names = (
            "state",
            "job_type",
            "voice_name",
            "batch_name",
            "tag",
            "job_id",
            "create_since",
            "create_until",
            "update_since",
            "update_until",
            "sort_key",
            "sort_dir",
            "is_ondemand_resource",
        )
        filters = api.JobFilters.build(**{name: params[name] for name in filter_names})
        return api.Pager(
            settings=self._settings or self.settings,
            filters=filters,
            page_size=check.bounded_int(
                params["page_size"], "page_size", minimum=1, maximum=MAX_PAGE, default=100
            ),
            max_items=None
            if params["max_items"] is None
            else check.bounded_int(params["max_items"], "max_items", minimum=0, maximum=2**31, default=0),
            app_user_id=check.app_user_id(params["app_user_id"]),
        )

    # ------------------------------------------------------------------ API (async)
    async def aget_job(self, job_id: str, *, app_user_id: str | None = None) -> VoiceTrainingJob:
        """Async :meth:`get_job` (used by the trigger)."""
        return await self._acall(api.show_job, job_id, app_user_id)  # type: ignore[no-any-return]

    async def aget_audit_result(self, job_id: str, *, app_user_id: str | None = None) -> AuditResult:
        return await self._acall(api.show_audit_result, job_id, app_user_id)  # type: ignore[no-any-return]

    async def adelete_job(
        self, job_id: str, *, app_user_id: str | None = None, missing_ok: bool = False
    ) -> None:
        try:
            await self._acall(api.delete_job, job_id, app_user_id)
        except VoiceTrainingNotFoundError as exc:
            if not (missing_ok or exc.attempts > 1):
                raise

    async def alist_jobs(self, **params: Any) -> AsyncIterator[VoiceTrainingJob]:
        """Async :meth:`list_jobs` (same keyword arguments)."""
        await self.aget_settings()
        defaults: dict[str, Any] = {
            "state": None,
            "job_type": None,
            "voice_name": None,
            "batch_name": None,
            "tag": None,
            "job_id": None,
            "create_since": None,
            "create_until": None,
            "update_since": None,
            "update_until": None,
            "sort_key": "create_time",
            "sort_dir": "asc",
            "is_ondemand_resource": None,
            "page_size": MAX_PAGE,
            "max_items": None,
            "app_user_id": None,
        }
        unknown = set(params) - set(defaults)
        if unknown:
            raise TypeError(f"alist_jobs() got unexpected keyword arguments {sorted(unknown)}")
        pager = self._pager({**defaults, **params})
        driver = await self._adriver()
        while (call := pager.next_call()) is not None:
            for job in pager.accept(await driver.execute(call)):
                yield job

    async def aget_failure_details(
        self, job: VoiceTrainingJob, *, app_user_id: str | None = None
    ) -> FailureDetails:
        audit = None
        if job.state == JobState.AUDIT_FAILED.value:
            try:
                audit = await self.aget_audit_result(job.job_id, app_user_id=app_user_id)
            except VoiceTrainingError as exc:
                self.log.warning("Could not fetch the audit result of %s: %s", job.job_id, exc)
        settings = await self.aget_settings()
        return FailureDetails.from_job(job, audit, console_url(settings, job.job_id))
