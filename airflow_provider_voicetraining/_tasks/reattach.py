"""Never train twice: find the job an earlier try of this task instance created, and say what to do with it.

A task instance (``dag_id``, ``task_id``, ``run_id``, ``map_index``) trains at most one voice.
Its job is found through the task state store (Airflow 3.3+, key :data:`STORE_KEY`) or by its
batch name, :attr:`TaskAttempt.identity` (every version; unless the user sets ``batch_name``).
A job is adopted only if :func:`belongs` says it is this task instance's; :func:`reuse_of` then
decides (``WAIT``, ``DONE``, ``FINISH``, ``REPORT`` or ``REPLACE``). The rules to know: a retry
never replaces a failed job (it reports that failure, as the interrupted try would have); only
the first try after the task was cleared does. When a try cannot prove a committed lookalike
is its own, it refuses to create another
(:class:`~airflow_provider_voicetraining.errors.VoiceTrainingAmbiguousJobError`).
The table of outcomes is in docs/operators/create.md ("Retries and reruns"); the reasoning in docs/design.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wire.signing import MAX_CLOCK_SKEW
from airflow_provider_voicetraining._wire.states import COMMITTABLE_STATES, StateClass, classify

if TYPE_CHECKING:
    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

#: Key of the earlier job in the task state store. Renaming it breaks retries in flight.
STORE_KEY = "metastudio_voice_training_job"
IDENTITY_PREFIX = "af-"
#: 24 hex digits = 96 bits: two task instances colliding is not a practical concern.
IDENTITY_HEX = 24
#: Candidates looked at per owner (one task instance makes one job per failed attempt at most).
MAX_CANDIDATES = 20


class Reuse(str, enum.Enum):
    """What a try does with the job an earlier try created."""

    WAIT = "wait"
    DONE = "done"
    FINISH = "finish"
    REPORT = "report"
    REPLACE = "replace"


#: Which earlier job wins when several are this task instance's (a zombie try may have made one).
_PREFERENCE = (Reuse.DONE, Reuse.WAIT, Reuse.FINISH, Reuse.REPORT, Reuse.REPLACE)


@dataclass(frozen=True)
class TaskAttempt:
    """The try at hand: who it is, and what it knows about retries.

    :param dag_id: the DAG.
    :param task_id: the task.
    :param run_id: the DAG run.
    :param map_index: the mapped instance (-1 when not mapped).
    :param try_number: 1 for the first try of the task instance.
    :param run_began: epoch seconds when the DAG run became due (``run_after``), if known.
    :param retry_follows: Airflow retries if this try fails.
    :param first_try: the try that began the current series (1, or the first after a clear).
    :param store: the task state store (Airflow 3.3+), else ``None``.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    try_number: int = 1
    run_began: float | None = None
    retry_follows: bool = False
    first_try: int = 1
    store: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_context(cls, context: Any) -> TaskAttempt:
        """Read the try from the task's Airflow context."""
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            run_id=str(ti.run_id),
            map_index=-1 if map_index is None else int(map_index),
            try_number=int(getattr(ti, "try_number", 1) or 1),
            run_began=compat.run_began(context),
            retry_follows=compat.retry_follows(context),
            first_try=compat.first_try(context),
            store=compat.task_state_store(context),
        )

    @property
    def is_retry(self) -> bool:
        """Airflow retries the task instance (rather than running it first, or afresh after a clear)."""
        return self.try_number > self.first_try

    @property
    def identity(self) -> str:
        """``af-`` + 24 hex digits derived from the four ids: the batch name of the task's job."""
        raw = "\x1f".join((self.dag_id, self.task_id, self.run_id, str(self.map_index)))
        return IDENTITY_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:IDENTITY_HEX]

    @property
    def earliest_create_time(self) -> float | None:
        """A job of this run cannot be older than this (epoch seconds; the gateway's clock
        tolerance, :data:`~._wire.signing.MAX_CLOCK_SKEW`, before the run became due)."""
        return None if self.run_began is None else self.run_began - MAX_CLOCK_SKEW


@dataclass(frozen=True)
class JobSpec:
    """What this try would create; an earlier job must match it to be adopted.

    :param job_type: the edition's ``job_type``.
    :param voice_names: the voice name (and the commit's ``voice_name`` override, if any).
    :param owners: the ``X-App-UserId`` the job is created for, and the commit body's
        ``app_user_id`` it may have been moved to (``None``: no app user).
    :param batch_name: the batch name the job is created with.
    :param tagged: ``batch_name`` is the task instance's identity (the user set none).
    """

    job_type: str
    voice_names: tuple[str, ...]
    owners: tuple[str | None, ...]
    batch_name: str
    tagged: bool


@dataclass(frozen=True)
class EarlierJob:
    """The job an earlier try created, where it was found, and what to do with it.

    :param job: the job as the service shows it now.
    :param owner: the ``X-App-UserId`` it is visible under.
    :param found_by: ``"task_state_store"`` or ``"batch_name"``.
    :param reuse: what this try does with it.
    """

    job: VoiceTrainingJob
    owner: str | None
    found_by: str
    reuse: Reuse


def reuse_of(job: VoiceTrainingJob, *, retry: bool) -> Reuse:
    """Decide what a try does with an earlier try's job: finish it if uncommitted (or ``AUDIT_FAILED``),
    return it if it succeeded, wait for it if in progress; if it failed, a retry reports that
    failure and the first try after a clear replaces the job.

    :param job: the earlier try's job, as the service shows it now.
    :param retry: this try is a retry (:attr:`TaskAttempt.is_retry`).
    """
    if job.state in COMMITTABLE_STATES:
        return Reuse.FINISH
    state_class = classify(job.state)
    if state_class is StateClass.SUCCESS:
        return Reuse.DONE
    if state_class is StateClass.FAILURE:
        # a retry only follows a try that never reported the failure (a crash, a lost event):
        # it ends the same way instead of paying for a second training of the same recordings
        return Reuse.REPORT if retry else Reuse.REPLACE
    # in progress, unknown states, and USER_RESULT_REVIEW (the training is done and waits for
    # a person: a new job would pay again for the same voice)
    return Reuse.WAIT


def belongs(job: VoiceTrainingJob, spec: JobSpec, attempt: TaskAttempt, owner: str | None) -> bool:
    """Whether ``job`` can be this task instance's: the same edition, voice name and app user (or
    those its commit moves it to), created after the DAG run became due (minus the clock
    tolerance); so no sibling mapped instance, other end user or earlier run's job matches."""
    if job.job_type is not None and job.job_type != spec.job_type:
        return False
    if job.voice_name not in spec.voice_names:
        return False
    if job.app_user_id not in spec.owners and not (job.app_user_id is None and owner is not None):
        return False
    earliest = attempt.earliest_create_time
    created = job.create_time.timestamp() if job.create_time is not None else None
    return earliest is None or (created is not None and created >= earliest)


def _owners_first(preferred: str | None, owners: Iterable[str | None]) -> list[str | None]:
    return [preferred, *(o for o in owners if o != preferred)]


def find_earlier_job(
    hook: VoiceTrainingHook, attempt: TaskAttempt, spec: JobSpec, log: Any
) -> EarlierJob | None:
    """Return the job an earlier try of this task instance created, or ``None``.

    Raises :class:`~airflow_provider_voicetraining.errors.VoiceTrainingAmbiguousJobError` in
    the one case it cannot decide (a user-set ``batch_name``, no task state store, a committed
    lookalike); API errors propagate (a try that cannot look must not create).
    """
    found = _from_store(hook, attempt, spec, log)
    if found is not None:
        return found
    if attempt.try_number <= 1:
        return None  # the very first try of this task instance: nothing can precede it
    if spec.tagged:
        return _from_identity(hook, attempt, spec, log)
    if attempt.store is None:
        _refuse_lookalikes(hook, attempt, spec)
    return None


def _from_store(hook: VoiceTrainingHook, attempt: TaskAttempt, spec: JobSpec, log: Any) -> EarlierJob | None:
    from airflow_provider_voicetraining._wire.errors import VoiceTrainingNotFoundError

    if attempt.store is None:
        return None
    record = attempt.store.get(STORE_KEY)
    if not isinstance(record, dict) or not isinstance(record.get("job_id"), str):
        return None
    job_id = record["job_id"]
    for owner in _owners_first(record.get("app_user_id"), spec.owners):
        try:
            job = hook.get_job(job_id, app_user_id=owner)
        except VoiceTrainingNotFoundError:
            continue
        if not belongs(job, spec, attempt, owner):
            log.warning(
                "The task state store names job %s, which does not match this task instance's job "
                "(voice %r, %s, app user %r); creating a new one",
                job_id,
                job.voice_name,
                job.job_type,
                job.app_user_id,
            )
            return None
        return _earlier(job, owner, "task_state_store", attempt, log)
    log.info("Job %s of an earlier try no longer exists (deleted); creating a new one", job_id)
    return None


def _candidates(
    hook: VoiceTrainingHook, attempt: TaskAttempt, spec: JobSpec, owner: str | None, **criteria: Any
) -> list[VoiceTrainingJob]:
    earliest = attempt.earliest_create_time
    since = None if earliest is None else dt.datetime.fromtimestamp(earliest, dt.timezone.utc)
    jobs = hook.list_jobs(
        batch_name=spec.batch_name,
        job_type=spec.job_type,
        create_since=since,
        sort_dir="desc",
        max_items=MAX_CANDIDATES,
        app_user_id=owner,
        **criteria,
    )
    return [j for j in jobs if j.batch_name == spec.batch_name and belongs(j, spec, attempt, owner)]


def _from_identity(
    hook: VoiceTrainingHook, attempt: TaskAttempt, spec: JobSpec, log: Any
) -> EarlierJob | None:
    found: list[EarlierJob] = []
    seen: set[str] = set()
    for owner in spec.owners:
        for job in _candidates(hook, attempt, spec, owner):
            if job.job_id not in seen:
                seen.add(job.job_id)
                found.append(EarlierJob(job, owner, "batch_name", reuse_of(job, retry=attempt.is_retry)))
    if not found:
        return None
    # newest first within each preference: the latest try's job decides
    found.sort(key=lambda e: e.job.create_time.timestamp() if e.job.create_time else 0.0, reverse=True)
    found.sort(key=lambda e: _PREFERENCE.index(e.reuse))
    chosen = found[0]
    if len(found) > 1:
        log.warning(
            "Several jobs carry this task instance's batch name %s: %s; using %s",
            spec.batch_name,
            ", ".join(f"{e.job.job_id} ({e.job.state})" for e in found),
            chosen.job.job_id,
        )
    return _earlier(chosen.job, chosen.owner, "batch_name", attempt, log)


def _earlier(
    job: VoiceTrainingJob, owner: str | None, found_by: str, attempt: TaskAttempt, log: Any
) -> EarlierJob:
    reuse = reuse_of(job, retry=attempt.is_retry)
    log.info(
        "An earlier try created job %s (found by %s), now %s: %s",
        job.job_id,
        found_by,
        job.state,
        {
            Reuse.WAIT: "waiting for it instead of creating another",
            Reuse.DONE: "returning its asset_id",
            Reuse.FINISH: "uploading the package and committing it",
            Reuse.REPORT: "it failed and this is a retry, so its failure is reported (no new job)",
            Reuse.REPLACE: "it failed, so a new job is created",
        }[reuse],
    )
    return EarlierJob(job, owner, found_by, reuse)


def _refuse_lookalikes(hook: VoiceTrainingHook, attempt: TaskAttempt, spec: JobSpec) -> None:
    """3.0-3.2 with a user-chosen batch name: refuse if a committed lookalike exists that this try
    would not replace (any, on a retry; an unfailed one, after a clear)."""
    from airflow_provider_voicetraining.errors import VoiceTrainingAmbiguousJobError

    lookalikes = [
        job
        for owner in spec.owners
        for voice_name in spec.voice_names
        for job in _candidates(hook, attempt, spec, owner, voice_name=voice_name)
        if job.state not in COMMITTABLE_STATES and reuse_of(job, retry=attempt.is_retry) is not Reuse.REPLACE
    ]
    if lookalikes:
        ids = sorted({j.job_id for j in lookalikes})
        raise VoiceTrainingAmbiguousJobError(
            f"Try {attempt.try_number} of {attempt.dag_id}.{attempt.task_id} (run {attempt.run_id}, "
            f"map index {attempt.map_index}) finds committed job(s) {', '.join(ids)} with batch name "
            f"{spec.batch_name!r} and voice {spec.voice_names[0]!r} created during this run, but cannot "
            "prove they are its own (a batch_name set by the DAG leaves no room for the task's identity, "
            "and Airflow < 3.3 has no task state store). Creating another job could train this voice "
            "twice. Fix: collect the job with VoiceTrainingJobResultOperator, or delete it and clear the "
            "task; to let retries reconnect by themselves, leave batch_name unset or use Airflow 3.3+",
            ids,
        )


def remember(attempt: TaskAttempt, job_id: str, owner: str | None, log: Any) -> None:
    """Record the new job in the task state store (3.3+), right after it was created."""
    if attempt.store is None:
        return
    try:
        attempt.store.set(STORE_KEY, {"job_id": job_id, "app_user_id": owner, "identity": attempt.identity})
    except Exception as exc:  # the job exists: carry on with it rather than fail this try over a record
        log.warning(
            "Could not record job %s in the task state store (%s); a retry looks it up by batch", job_id, exc
        )
        return
    log.debug("Recorded job %s in the task state store (%s)", job_id, STORE_KEY)
