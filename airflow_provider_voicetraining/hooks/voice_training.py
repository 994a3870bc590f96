"""``VoiceTrainingHook``: authenticated calls to the MetaStudio voice-training API.

Async methods (``aget_job``...) run on the caller's event loop (the triggerer's) and never
block it; sync methods (``get_job``...) run the same coroutines on an event loop of the calling
thread (``_wire.transports``). Both go through the same request flow:
same signing, retries, time budgets, body caps and errors. This module adds what Airflow
brings: the connection, secret masking and the connection form.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_voicetraining import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire import endpoints as api
from airflow_provider_voicetraining._wire.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingCreateUnknownError,
    VoiceTrainingError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingTransportError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining._wire.exchange import ApiCall, FileBody
from airflow_provider_voicetraining._wire.listing import JobFilters, Pager
from airflow_provider_voicetraining._wire.models import (
    AuditResult,
    CreatedJob,
    FailureDetails,
    TrainingQuotas,
    UploadUrls,
    VoiceTrainingJob,
)
from airflow_provider_voicetraining._wire.retry import RetryPolicy
from airflow_provider_voicetraining._wire.secrets import Redactor, Secret, secret_variants
from airflow_provider_voicetraining._wire.settings import (
    CONN_FIELDS,
    TUNABLES,
    ConnectionSettings,
    parse_connection,
)
from airflow_provider_voicetraining._wire.signing import MAX_CLOCK_SKEW
from airflow_provider_voicetraining._wire.states import JobState
from airflow_provider_voicetraining._wire.transports import AsyncTransport, SyncTransport
from airflow_provider_voicetraining._wire.vocabulary import MAX_PAGE

__all__ = ["VoiceTrainingHook"]

if TYPE_CHECKING:
    import requests

T = TypeVar("T")

BaseHook = compat.base_hook_class()


def _mask(token: Secret) -> None:
    """Register ``token`` with Airflow's masker, in every form it can show up in."""
    for value in secret_variants(token.reveal()):
        compat.mask_secret(value)


async def _amask(token: Secret) -> None:
    for value in secret_variants(token.reveal()):
        await compat.amask_secret(value)


class VoiceTrainingHook(BaseHook):  # type: ignore[misc,valid-type]
    """Interact with MetaStudio voice training.

    :param metastudio_conn_id: the ``huaweicloud_metastudio`` connection (default
        ``metastudio_default``).
    :param app_user_id: default ``X-App-UserId`` for this hook's calls (overrides the
        connection's; each method accepts its own override too).
    :param timeout: per-request timeout in seconds (overrides the connection's ``timeout``).
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_delay: base back-off in seconds (overrides the connection's ``retry_delay``).
    :param logger_name: name of the hook's logger (Airflow's ``BaseHook`` convention).
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
        tunables = {"timeout": timeout, "max_retries": max_retries, "retry_delay": retry_delay}
        # checked now, before any connection is read
        self._overrides: dict[str, Any] = {
            name: TUNABLES[name].check(name, value) for name, value in tunables.items() if value is not None
        }
        if app_user_id is not None:
            self._overrides["app_user_id"] = check.app_user_id(app_user_id)
        self._settings: ConnectionSettings | None = None
        #: whether messages name the connection id (not for Airflow's Test button: see test_connection)
        self._named = True
        self._sync: SyncTransport | None = None
        self._async: AsyncTransport | None = None
        self._session: requests.Session | None = None
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
        for name, spec in CONN_FIELDS.items():
            if spec["schema"].get("format") == "password":
                widgets[name] = PasswordField(lazy_gettext(spec["label"]), widget=BS3PasswordFieldWidget())
            else:
                widgets[name] = StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget())
        return widgets

    # ------------------------------------------------------------------ settings and transports
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
            settings = parse_connection(self.get_connection(self.metastudio_conn_id), named=self._named)
            for secret in settings.secrets():
                _mask(secret)
            self._finish_settings(settings)
        assert self._settings is not None
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """Async :attr:`settings`."""
        if self._settings is None:
            conn = await compat.aget_connection(self.metastudio_conn_id)
            settings = await compat.arun_sync(parse_connection, conn)
            for secret in settings.secrets():
                await _amask(secret)
            self._finish_settings(settings)
        assert self._settings is not None
        return self._settings

    @staticmethod
    def _policy(settings: ConnectionSettings) -> RetryPolicy:
        return RetryPolicy.for_connection(settings)

    @property
    def _transport(self) -> SyncTransport:
        if self._sync is None:
            settings = self.settings
            self._sync = SyncTransport(settings, self._policy(settings), self._redact, _mask)
        return self._sync

    async def _atransport(self) -> AsyncTransport:
        if self._async is None:
            settings = await self.aget_settings()
            self._async = AsyncTransport(settings, self._policy(settings), self._redact, _amask)
        return self._async

    def _call(
        self, build: Callable[..., ApiCall[T]], *args: Any, deadline: float | None = None, **kwargs: Any
    ) -> T:
        """Validate and build the call first (nothing is sent on bad input), then run it."""
        return self._transport.execute(build(self.settings, *args, **kwargs), deadline)

    async def _acall(
        self, build: Callable[..., ApiCall[T]], *args: Any, deadline: float | None = None, **kwargs: Any
    ) -> T:
        transport = await self._atransport()
        return await transport.execute(build(transport.settings, *args, **kwargs), deadline)

    def get_conn(self) -> requests.Session:
        """Return a ``requests.Session`` that authenticates any MetaStudio call (one per hook).

        For the APIs without a typed method (the asset library, TTS ...); docs/hook.md's "Any other
        MetaStudio API" says what it adds to plain ``requests`` and what it leaves to the caller.
        Its auth is :class:`~airflow_provider_voicetraining.auth.MetaStudioAuth` (AK/SK signing,
        or the hook's IAM tokens: same cache, same re-mint on 401); it sends the connection's
        default ``X-App-UserId``, verifies TLS per the connection, gives every request without
        a ``timeout`` the connection's ``timeout``, resolves a path starting with ``/`` against
        the endpoint and sends no credential to another host, redirects included. Closing the
        hook closes it.
        """
        if self._session is None:
            from airflow_provider_voicetraining._wire.limits import MAX_CONNECT_TIMEOUT
            from airflow_provider_voicetraining._wire.request_flow import USER_AGENT
            from airflow_provider_voicetraining._wire.requests_session import EndpointSession
            from airflow_provider_voicetraining.auth import MetaStudioAuth

            settings = self.settings
            self._session = EndpointSession(
                settings.endpoint,
                auth=MetaStudioAuth.from_settings(settings, self._transport),
                verify=settings.verify,
                timeout=(min(settings.timeout, MAX_CONNECT_TIMEOUT), settings.timeout),
                user_agent=USER_AGENT,
            )
        return self._session

    def close(self) -> None:
        """Close the sync HTTP session and :meth:`get_conn`'s (the async side closes with :meth:`aclose`)."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        """Give the shared async connection pool back (and close :meth:`get_conn`'s session)."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    def __enter__(self) -> VoiceTrainingHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> VoiceTrainingHook:
        await self._atransport()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ jobs
    def get_job(
        self, job_id: str, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> VoiceTrainingJob:
        """``GET .../user/jobs/{job_id}``: the job's detail, including ``state`` and ``asset_id``.

        :param job_id: the job.
        :param app_user_id: ``X-App-UserId`` the job was created with (overrides the hook's).
        :param deadline: wall-clock epoch the call must end by, retries included (besides the
            connection's ``call_timeout``); the sensor passes its own timeout here.
        """
        return self._call(api.show_job, job_id, app_user_id, deadline=deadline)

    async def aget_job(
        self, job_id: str, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> VoiceTrainingJob:
        """Async :meth:`get_job`."""
        return await self._acall(api.show_job, job_id, app_user_id, deadline=deadline)

    def _listing(
        self,
        filters: JobFilters | None,
        criteria: dict[str, Any],
        page_size: int,
        max_items: int | None,
        app_user_id: str | None,
    ) -> tuple[Pager, Callable[[ConnectionSettings, int], ApiCall[Any]]]:
        """Check the listing arguments (before any request) and say how to build each page call."""
        if filters is not None and criteria:
            raise VoiceTrainingValidationError(
                "list_jobs filters", "were given both as a JobFilters and as keywords", "pass one of them"
            )
        chosen = filters if filters is not None else JobFilters(**criteria)
        user = check.app_user_id(app_user_id)
        pager = Pager(page_size=page_size, max_items=max_items)

        def page_call(settings: ConnectionSettings, offset: int) -> ApiCall[Any]:
            return api.list_jobs_page(
                settings, chosen, offset=offset, limit=pager.page_size, app_user_id=user
            )

        return pager, page_call

    def list_jobs(
        self,
        filters: JobFilters | None = None,
        *,
        page_size: int = MAX_PAGE,
        max_items: int | None = None,
        app_user_id: str | None = None,
        **criteria: Any,
    ) -> Iterator[VoiceTrainingJob]:
        """Iterate over matching jobs, page by page, lazily.

        Arguments are checked when this is called, before the first page is requested.

        :param filters: a :class:`~airflow_provider_voicetraining.listing.JobFilters`.
        :param page_size: jobs per request (1..100).
        :param max_items: stop after this many jobs.
        :param app_user_id: list only this end user's jobs (``X-App-UserId``).
        :param criteria: the :class:`JobFilters` fields as keywords instead of ``filters``
            (``state=["FAILED", "AUDIT_FAILED"]``, ``create_since=...``).
        """
        pager, page_call = self._listing(filters, criteria, page_size, max_items, app_user_id)
        transport = self._transport

        def pages() -> Iterator[VoiceTrainingJob]:
            while not pager.done:
                yield from pager.accept(transport.execute(page_call(transport.settings, pager.offset)))

        return pages()

    async def alist_jobs(
        self,
        filters: JobFilters | None = None,
        *,
        page_size: int = MAX_PAGE,
        max_items: int | None = None,
        app_user_id: str | None = None,
        **criteria: Any,
    ) -> AsyncIterator[VoiceTrainingJob]:
        """Async :meth:`list_jobs`."""
        pager, page_call = self._listing(filters, criteria, page_size, max_items, app_user_id)
        transport = await self._atransport()
        while not pager.done:
            for job in pager.accept(await transport.execute(page_call(transport.settings, pager.offset))):
                yield job

    def create_job(
        self,
        edition: str,
        *,
        voice_name: str,
        app_user_id: str | None = None,
        **fields: Any,
    ) -> CreatedJob:
        """Create a job of ``edition``; returns its ``job_id`` and presigned upload URLs.

        A create whose outcome is unknown is never sent again. When the create gets no usable
        answer (5xx, a reset or read timeout after it was sent, a garbled 2xx body), the hook
        looks for the job it may have made: the one uncommitted (``CREATING``) job with this
        ``voice_name``, app user and ``batch_name``, created at most 15 minutes (the gateway's
        clock tolerance) before the create was sent. It adopts that job (with fresh upload
        URLs); if there is none, or several, it raises ``VoiceTrainingCreateUnknownError``.
        (A create that surely never reached the service, or was throttled, is retried.)

        :param edition: ``basic``, ``middle``, ``advance`` or ``third_party``.
        :param voice_name: name of the voice (asset) to train.
        :param app_user_id: the end user to create the job for (``X-App-UserId``).
        :param fields: the optional create fields (``vocabulary.CREATE_FIELDS``: ``sex``,
            ``language``, ``tag``, ``description``, ``create_type``, ``phone``,
            ``dhtms_job_id``, ``batch_name``, ``output_language``, ``custom_text``,
            ``is_ondemand_resource``, ``supported_service``), each checked before sending.
        """
        call = api.create_job(
            self.settings, edition, voice_name=voice_name, app_user_id=app_user_id, **fields
        )
        started = time.time()
        try:
            return self._transport.execute(call)
        except (VoiceTrainingServerError, VoiceTrainingTransportError, VoiceTrainingResponseError) as exc:
            if isinstance(exc, VoiceTrainingTransportError) and not exc.may_have_reached:
                raise
            return self._adopt_unacknowledged(
                voice_name, app_user_id, since=started, error=exc, batch_name=fields.get("batch_name")
            )

    def check_create(
        self,
        edition: str,
        *,
        voice_name: str,
        app_user_id: str | None = None,
        commit_overrides: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Check a create and its commit as :meth:`create_job` and :meth:`commit_job` would; send nothing.

        Raises ``VoiceTrainingValidationError`` on bad input (``VoiceTrainingConnectionError``
        on a bad connection, which this reads).

        :param edition: as for :meth:`create_job`.
        :param voice_name: as for :meth:`create_job`.
        :param app_user_id: as for :meth:`create_job`.
        :param commit_overrides: the commit's body fields (``overrides`` of :meth:`commit_job`).
        :param fields: the optional create fields, as for :meth:`create_job`.
        """
        api.create_job(self.settings, edition, voice_name=voice_name, app_user_id=app_user_id, **fields)
        api.commit_body(commit_overrides)

    def _adopt_unacknowledged(
        self,
        voice_name: str,
        app_user_id: str | None,
        *,
        since: float,
        error: VoiceTrainingError,
        batch_name: str | None = None,
    ) -> CreatedJob:
        """Return the job an unanswered create made if exactly one matches, else raise (see create_job)."""
        earliest = since - MAX_CLOCK_SKEW
        what = f"voice_name {voice_name!r}" + (f", batch_name {batch_name!r}" if batch_name else "")
        user = f" and X-App-UserId {app_user_id!r}" if app_user_id else ""

        def unknown(problem: str, job_ids: tuple[str, ...] = ()) -> VoiceTrainingCreateUnknownError:
            return VoiceTrainingCreateUnknownError(
                f"Create of {voice_name!r} got no usable answer ({error}); {problem}. It was not sent "
                "again: a second create could train the voice twice. Check the project's jobs with "
                f"{what}{user} (list_jobs or the MetaStudio console): use or delete what is there. "
                "Retrying the create operator's task is safe: it finds a job its earlier try made by "
                "its batch name before creating one.",
                voice_name=voice_name,
                batch_name=batch_name,
                job_ids=job_ids,
            )

        try:
            candidates = [
                job
                for job in self.list_jobs(
                    voice_name=voice_name,
                    batch_name=batch_name,
                    state="CREATING",
                    sort_dir="desc",
                    max_items=20,
                    app_user_id=app_user_id,
                )
                if job.voice_name == voice_name
                and job.batch_name == batch_name
                and job.create_time is not None
                and job.create_time.timestamp() >= earliest
            ]
        except VoiceTrainingError as exc:
            raise unknown(f"looking for the job it may have made failed too ({exc})") from error
        if not candidates:
            raise unknown("no uncommitted job it may have made is listed (yet)") from error
        if len(candidates) > 1:
            ids = tuple(j.job_id for j in candidates)
            raise unknown(
                f"{len(ids)} uncommitted jobs with that name were created meanwhile ({', '.join(ids)}); "
                "refusing to guess which is ours",
                ids,
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

    def commit_job(
        self,
        job_id: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        app_user_id: str | None = None,
        **fields: Any,
    ) -> None:
        """Commit the job for review and training (after its data was uploaded).

        If a retried commit is refused and the job is no longer ``CREATING``, an earlier attempt
        went through and the call succeeds (a job whose audit failed again shows
        ``AUDIT_FAILED``, which the wait then reports).

        :param job_id: the job.
        :param overrides: metadata overrides sent in the body, any of
            ``vocabulary.COMMIT_FIELDS`` (``tag``, ``description``, ``sex``, ``voice_name``,
            ``language``, ``phone``, ``app_user_id``, ``output_language``, ``custom_text``).
            The body's ``app_user_id`` (the end user the job is filed under) can only be given
            here: as a keyword, ``app_user_id`` is the ``X-App-UserId`` header.
        :param app_user_id: ``X-App-UserId`` the job was created with (a header).
        :param fields: body fields as keywords instead of ``overrides`` (all but ``app_user_id``).
        """
        clash = sorted(set(overrides or {}) & set(fields))
        if clash:
            raise VoiceTrainingValidationError(
                "commit overrides", f"{clash} were given both in overrides and as keywords", "pass each once"
            )
        call = api.commit_job(self.settings, job_id, {**(overrides or {}), **fields}, app_user_id)
        try:
            self._transport.execute(call)
        except VoiceTrainingAPIError as exc:
            self._check_retried_commit(exc, self.get_job, job_id, app_user_id)

    def _check_retried_commit(
        self,
        exc: VoiceTrainingAPIError,
        fetch: Callable[..., VoiceTrainingJob],
        job_id: str,
        app_user_id: str | None,
    ) -> None:
        """Re-raise a commit error unless the commit was retried and the job left ``CREATING``.

        Any other state proves an earlier attempt went through: even ``AUDIT_FAILED``, which a
        fast audit reaches before the retry arrives (a re-commit after a failed audit is refused
        as this one only when the data was not uploaded again: the wait reports that too).
        """
        if exc.status_code != 400 or exc.attempts < 2:
            raise exc
        job = fetch(job_id, app_user_id=app_user_id)
        if job.state == JobState.CREATING.value:
            raise exc
        self.log.info(
            "Commit of %s was retried; the job is %s, so an earlier attempt went through", job_id, job.state
        )

    # ------------------------------------------------------------------ quotas
    def get_quotas(self) -> TrainingQuotas:
        """``GET P/quotas``: trainings left per counter (``resource_available_nums``).

        An edition's counter is ``Edition.quota_key_for(on_demand)`` (``vocabulary.EDITIONS``).
        """
        return self._call(api.show_quotas)

    # ------------------------------------------------------------------ short jobs (recording check)
    def create_short_job(self, *, language: str | None = None, app_user_id: str | None = None) -> CreatedJob:
        """Create a recording check (a ``VOICE_ASSESS`` short job).

        Upload the recordings to ``upload_urls.training_data_uploading_url``, then commit. The
        create is not sent again when its answer is lost (a short job cannot be looked up by
        name): the error says so, and a task retry makes a new check.

        :param language: ``CN`` (the service's default) or ``EN``.
        :param app_user_id: the end user to create it for (``X-App-UserId``).
        """
        return self._call(api.create_short_job, language=language, app_user_id=app_user_id)

    def commit_short_job(self, job_id: str, *, app_user_id: str | None = None) -> None:
        """Start the check (after the recordings were uploaded).

        :param job_id: the short job.
        :param app_user_id: ``X-App-UserId`` it was created with.
        """
        try:
            self._call(api.commit_short_job, job_id, app_user_id)
        except VoiceTrainingAPIError as exc:
            self._check_retried_commit(exc, self.get_short_job, job_id, app_user_id)

    def get_short_job(
        self, job_id: str, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> VoiceTrainingJob:
        """``GET .../user/short-jobs/{job_id}``: state and ``assess_result`` (``asset_id`` is always None).

        :param job_id: the short job.
        :param app_user_id: ``X-App-UserId`` it was created with.
        :param deadline: wall-clock epoch the call must end by, retries included.
        """
        return self._call(api.show_short_job, job_id, app_user_id, deadline=deadline)

    async def aget_short_job(
        self, job_id: str, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> VoiceTrainingJob:
        """Async :meth:`get_short_job`."""
        return await self._acall(api.show_short_job, job_id, app_user_id, deadline=deadline)

    @staticmethod
    def _delete_outcome(exc: VoiceTrainingNotFoundError, missing_ok: bool) -> None:
        """Re-raise a 404 unless ``missing_ok`` or the delete was retried (then it went through)."""
        if not (missing_ok or exc.attempts > 1):
            raise exc

    def delete_job(self, job_id: str, *, app_user_id: str | None = None, missing_ok: bool = False) -> None:
        """Delete the job.

        :param job_id: the job.
        :param app_user_id: ``X-App-UserId`` the job was created with.
        :param missing_ok: a job that does not exist (any more) is not an error.
        """
        try:
            self._call(api.delete_job, job_id, app_user_id)
        except VoiceTrainingNotFoundError as exc:
            self._delete_outcome(exc, missing_ok)

    async def adelete_job(
        self, job_id: str, *, app_user_id: str | None = None, missing_ok: bool = False
    ) -> None:
        """Async :meth:`delete_job`."""
        try:
            await self._acall(api.delete_job, job_id, app_user_id)
        except VoiceTrainingNotFoundError as exc:
            self._delete_outcome(exc, missing_ok)

    def get_audit_result(self, job_id: str, *, app_user_id: str | None = None) -> AuditResult:
        """Why a job failed review (``AUDIT_FAILED``), file by file.

        :param job_id: the job.
        :param app_user_id: ``X-App-UserId`` the job was created with.
        """
        return self._call(api.show_audit_result, job_id, app_user_id)

    async def aget_audit_result(self, job_id: str, *, app_user_id: str | None = None) -> AuditResult:
        """Async :meth:`get_audit_result`."""
        return await self._acall(api.show_audit_result, job_id, app_user_id)

    def get_upload_urls(self, job_id: str, *, app_user_id: str | None = None) -> UploadUrls:
        """Fresh presigned upload URLs (e.g. to re-upload after ``AUDIT_FAILED``).

        :param job_id: the job.
        :param app_user_id: ``X-App-UserId`` the job was created with.
        """
        return self._call(api.show_upload_urls, job_id, app_user_id)

    def upload_training_data(
        self, url: str | None, path: str | os.PathLike[str], content_type: str = "application/zip"
    ) -> str | None:
        """Stream a local file to a presigned upload URL (``PUT``); returns the ETag.

        :param url: the presigned URL from the create call or :meth:`get_upload_urls` (a
            missing one, ``None``, is refused with the fix).
        :param path: the local file.
        :param content_type: ``application/zip`` for a package, ``audio/wav`` / ``text/plain``
            for SEGMENT uploads.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise VoiceTrainingValidationError(
                "training package", f"{path!r} is not a file", "give the path of the zip to upload"
            )
        body = FileBody(path=path, size=os.path.getsize(path))
        return self._transport.execute(api.upload(url, body, content_type))

    # ------------------------------------------------------------------ failures, links, test
    def _failure_details(self, job: VoiceTrainingJob, audit: AuditResult | None) -> FailureDetails:
        return FailureDetails.from_job(job, audit, self.console_url(job.job_id))

    def _audit_failed(self, job: VoiceTrainingJob, exc: VoiceTrainingError) -> None:
        self.log.warning("Could not fetch the audit result of %s: %s", job.job_id, exc)

    def get_failure_details(
        self, job: VoiceTrainingJob, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> FailureDetails:
        """Describe why a job failed; for ``AUDIT_FAILED`` the audit errors are fetched too.

        Best effort: a failing audit call does not hide the job's own failure.

        :param job: the failed job.
        :param app_user_id: ``X-App-UserId`` the job was created with.
        :param deadline: wall-clock epoch the audit call must end by.
        """
        audit = None
        if job.state == JobState.AUDIT_FAILED.value:
            try:
                audit = self._call(api.show_audit_result, job.job_id, app_user_id, deadline=deadline)
            except VoiceTrainingError as exc:
                self._audit_failed(job, exc)
        return self._failure_details(job, audit)

    async def aget_failure_details(
        self, job: VoiceTrainingJob, *, app_user_id: str | None = None, deadline: float | None = None
    ) -> FailureDetails:
        """Async :meth:`get_failure_details`."""
        await self.aget_settings()
        audit = None
        if job.state == JobState.AUDIT_FAILED.value:
            try:
                audit = await self._acall(api.show_audit_result, job.job_id, app_user_id, deadline=deadline)
            except VoiceTrainingError as exc:
                self._audit_failed(job, exc)
        return self._failure_details(job, audit)

    def console_url(self, job_id: str) -> str:
        """Return where a person looks at the job.

        The connection's ``console_url`` template, or the MetaStudio console of the region.

        :param job_id: the job.
        """
        return self.settings.job_console_url(job_id)

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call (list one job). Used by the UI's *Test* button.

        Its messages say "the connection" rather than the connection id: the api-server tests a
        copy stored under a random temporary id, which would only confuse the reader.
        """
        if self._settings is None:
            self._named = False
        try:
            settings = self.settings
            page = self._transport.execute(api.list_jobs_page(settings, JobFilters(), limit=1))
        except VoiceTrainingError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, self._redact(f"{type(exc).__name__}: {exc}") or "error"
        return True, (
            f"Connected to {settings.endpoint} as {settings.auth_type}; project {settings.project_id} "
            f"has {page.count} voice-training job(s)."
        )
