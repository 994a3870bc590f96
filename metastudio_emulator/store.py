"""Jobs: records, commits, uploads, and the JSON views the API returns.

A record keeps only what happened (create time, commits with their fixed timelines, upload
metadata); every view (detail, list item, audit result, op-log) is computed from it for a
given ``now``. Nothing runs in the background, so the state of a job is always reproducible
from its record and the clock.

Visibility: a job belongs to one project and, optionally, one app user (``X-App-UserId`` at
create or ``app_user_id`` at commit). A request carrying ``X-App-UserId`` sees only that user's
jobs; a request without it sees every job of the project (the account owner's view). The
emulator chose this because the service documents the header as optional and per-request.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from airflow_provider_voicetraining._wire.packages import required_files
from airflow_provider_voicetraining._wire.states import (
    COMMITTABLE_STATES,
    KNOWN_STATES,
    JobState,
    StateClass,
    classify,
)
from airflow_provider_voicetraining._wire.vocabulary import CREATE_FIELDS
from metastudio_emulator import lifecycle
from metastudio_emulator.lifecycle import Position, Step
from metastudio_emulator.request_checks import ListQuery
from metastudio_emulator.responses import bad_request
from metastudio_emulator.uploads import UploadInfo

S = JobState

#: Metadata fields of a voice job as the API shows them (set at create, changed by commit).
META_FIELDS = ("voice_name", *CREATE_FIELDS)

#: Seed fields the store interprets itself; everything else is shown verbatim in the detail.
_SEED_SPECIAL = {
    "job_id",
    "kind",
    "project_id",
    "app_user_id",
    "job_type",
    "state",
    "create_time",
    "lastupdate_time",
    "asset_id",
    "job_failed_code",
    "job_failed_reason",
    "audit_errors",
    "outcome",
    "lifecycle",
    "commit_time",
    "uploaded",
    "reject_times",
    "omit_fields",
    *META_FIELDS,
}


def ms(epoch_seconds: float) -> int:
    """Epoch milliseconds, the unit of ``create_time`` / ``lastupdate_time``."""
    return round(epoch_seconds * 1000)


def rfc3339(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


@dataclass
class Commit:
    """One commit: when it happened and the timeline fixed at that moment."""

    number: int
    started_at: float
    time_scale: float
    steps: list[Step]
    outcome: str
    audit_errors: list[dict[str, Any]] = field(default_factory=list)
    failed_code: str | None = None
    failed_reason: str | None = None
    data_sequence: int = 0

    def position(self, now: float) -> Position:
        return lifecycle.position(self.steps, self.started_at, self.time_scale, now)

    def to_dict(self, now: float) -> dict[str, Any]:
        pos = self.position(now)
        return {
            "number": self.number,
            "started_at": self.started_at,
            "time_scale": self.time_scale,
            "outcome": self.outcome,
            "timeline": [{"state": s.state, "nominal_seconds": s.duration} for s in self.steps],
            "passed": [{"state": st, "entered_at": t} for st, t in pos.passed],
            "audit_errors": self.audit_errors,
            "failed_code": self.failed_code,
            "failed_reason": self.failed_reason,
        }


@dataclass
class JobRecord:
    job_id: str
    kind: str  # "voice" or "short"
    project_id: str
    app_user_id: str | None
    job_type: str
    meta: dict[str, Any]
    create_time: float
    base_state: str = S.CREATING.value
    base_time: float = 0.0
    base_reject_times: int = 0
    asset_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    failed_code: str | None = None
    failed_reason: str | None = None
    audit_errors: list[dict[str, Any]] = field(default_factory=list)
    outcome_override: str | None = None
    override_details: dict[str, Any] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    package: UploadInfo | None = None
    audio_segments: dict[int, UploadInfo] = field(default_factory=dict)
    text_segments: dict[int, UploadInfo] = field(default_factory=dict)
    authorization_letter: UploadInfo | None = None
    attachments: dict[int, UploadInfo] = field(default_factory=dict)
    upload_sequence: int = 0
    data_sequence: int = 0
    pinned: dict[str, Any] = field(default_factory=dict)
    #: keys removed from the job detail (to emulate a broken service: no ``state``, no ``asset_id``)
    omit_fields: tuple[str, ...] = ()
    seeded: bool = False

    # -- state -------------------------------------------------------------------------------

    def position(self, now: float) -> Position:
        """Current state; a record without commits sits in its base state."""
        if self.commits:
            return self.commits[-1].position(now)
        return Position(self.base_state, self.base_time, self._base_passed())

    def state(self, now: float) -> str:
        return self.position(now).state

    def _base_passed(self) -> list[tuple[str, float]]:
        """States a seeded fixed-state job is presumed to have passed (for op-logs/audit)."""
        if self.base_state == S.CREATING.value or self.kind != "voice" or self.base_state not in KNOWN_STATES:
            return [(self.base_state, self.base_time)]
        outcome = self.base_state
        steps = lifecycle.build_timeline(self.job_type, outcome)
        states = [s.state for s in steps]
        if self.base_state in states:
            states = states[: states.index(self.base_state) + 1]
        span = max(self.base_time - self.create_time, 0.0)
        n = len(states)
        return [(st, self.create_time + span * (i + 1) / n) for i, st in enumerate(states)]

    def reject_times(self, now: float) -> int:
        count = self.base_reject_times
        for c in self.commits:
            if c.position(now).state == S.AUDIT_FAILED.value:
                count += 1
        return count

    def failure(self, state: str) -> tuple[str | None, str | None]:
        if state not in (S.FAILED.value, S.SPLIT_FAILED.value):
            return None, None
        if self.commits:
            c = self.commits[-1]
            return c.failed_code, c.failed_reason
        return self.failed_code, self.failed_reason

    def current_audit_errors(self, now: float) -> list[dict[str, Any]]:
        if self.commits:
            return self.commits[-1].audit_errors if self.state(now) == S.AUDIT_FAILED.value else []
        return self.audit_errors if self.base_state == S.AUDIT_FAILED.value else []

    # -- uploads -----------------------------------------------------------------------------

    def record_upload(self, target: str, index: int | None, info: UploadInfo) -> None:
        if target == "package":
            self.package = info
        elif target == "audio" and index is not None:
            self.audio_segments[index] = info
        elif target == "text" and index is not None:
            self.text_segments[index] = info
        elif target == "letter":
            self.authorization_letter = info
        elif target == "attachment" and index is not None:
            self.attachments[index] = info
        if target in ("package", "audio", "text"):
            self.data_sequence = info.sequence

    def has_data(self) -> bool:
        if self.kind == "voice" and self.meta.get("create_type") == "SEGMENT":
            return bool(self.audio_segments)
        return self.package is not None

    def consumed_data_sequence(self) -> int:
        return self.commits[-1].data_sequence if self.commits else 0

    def data_audit_errors(self) -> list[dict[str, Any]]:
        if self.meta.get("create_type") == "SEGMENT":
            return lifecycle.audit_segments(self.job_type, set(self.audio_segments), set(self.text_segments))
        assert self.package is not None
        return lifecycle.audit_package(self.job_type, self.package.is_zip, self.package.members)


class JobStore:
    """All jobs of one emulator instance, keyed by job id."""

    def __init__(self, time_scale: float, durations: dict[str, float] | None = None) -> None:
        self.time_scale = time_scale
        self.durations = dict(durations or {})
        self.jobs: dict[str, JobRecord] = {}
        self._upload_seq = 0

    def clear(self) -> None:
        self.jobs.clear()

    def __iter__(self) -> Iterator[JobRecord]:
        return iter(self.jobs.values())

    def get(self, job_id: str, kind: str, project_id: str, app_user_id: str | None) -> JobRecord | None:
        rec = self.jobs.get(job_id)
        if rec is None or rec.kind != kind or not visible(rec, project_id, app_user_id):
            return None
        return rec

    # -- create / commit ---------------------------------------------------------------------

    def create_voice(
        self, project_id: str, app_user_id: str | None, job_type: str, meta: dict[str, Any], now: float
    ) -> JobRecord:
        rec = JobRecord(
            job_id=str(uuid.uuid4()),
            kind="voice",
            project_id=project_id,
            app_user_id=app_user_id,
            job_type=job_type,
            meta=dict(meta),
            create_time=now,
            base_time=now,
        )
        self.jobs[rec.job_id] = rec
        return rec

    def create_short(
        self, project_id: str, app_user_id: str | None, job_type: str, language: str, now: float
    ) -> JobRecord:
        rec = JobRecord(
            job_id=str(uuid.uuid4()),
            kind="short",
            project_id=project_id,
            app_user_id=app_user_id,
            job_type=job_type,
            meta={"language": language},
            create_time=now,
            base_time=now,
        )
        self.jobs[rec.job_id] = rec
        return rec

    def next_upload_sequence(self) -> int:
        self._upload_seq += 1
        return self._upload_seq

    def commit(
        self, rec: JobRecord, overrides: dict[str, Any], now: float, gate: Callable[[], None] | None = None
    ) -> Commit:
        """Commit ``rec`` (sends it to review) or raise a 400 explaining why it can't be.

        ``gate`` runs once the job is known to be committable (the quota check) and may refuse.
        """
        state = rec.state(now)
        if rec.kind == "short":
            allowed: frozenset[str] = frozenset({S.CREATING.value})
        else:
            allowed = COMMITTABLE_STATES
        if state not in allowed:
            raise bad_request(
                f"The job {rec.job_id} is in state {state} and cannot be committed; "
                f"only jobs in {' or '.join(sorted(allowed))} can."
            )
        if not rec.has_data():
            raise bad_request(
                f"The training data has not been uploaded for job {rec.job_id}: "
                "upload it to the URL returned at creation, then commit."
            )
        if state == S.AUDIT_FAILED.value and rec.data_sequence <= rec.consumed_data_sequence():
            raise bad_request(
                f"The training data of job {rec.job_id} has not been re-uploaded since the audit failed: "
                "get new URLs from uploading-address-url, upload the corrected data, then commit."
            )
        if gate is not None:
            gate()
        if rec.kind == "voice":
            app_user = overrides.pop("app_user_id", None)
            if app_user:
                rec.app_user_id = app_user
            rec.meta.update(overrides)
        number = (
            len(rec.commits) + 1 + (1 if rec.base_state == S.AUDIT_FAILED.value and not rec.commits else 0)
        )
        commit = self._plan(rec, number, now)
        rec.commits.append(commit)
        return commit

    def _plan(self, rec: JobRecord, number: int, started_at: float) -> Commit:
        """Fix the timeline of a commit from the outcome rule (see :mod:`.lifecycle`)."""
        details = rec.override_details
        data_errors = rec.data_audit_errors() if rec.kind == "voice" and rec.has_data() else []
        if rec.kind == "short":
            outcome = rec.outcome_override or self._short_outcome(rec)
            steps = lifecycle.build_short_timeline(outcome, self.durations)
        else:
            if rec.outcome_override:
                outcome = rec.outcome_override
            elif data_errors:
                outcome = S.AUDIT_FAILED.value
            else:
                outcome = lifecycle.outcome_from_voice_name(rec.meta.get("voice_name"), number)
            steps = lifecycle.build_timeline(rec.job_type, outcome, self.durations)
        commit = Commit(
            number=number,
            started_at=started_at,
            time_scale=self.time_scale,
            steps=steps,
            outcome=outcome,
            data_sequence=rec.data_sequence,
        )
        if outcome == S.AUDIT_FAILED.value:
            commit.audit_errors = (
                details.get("audit_errors")
                or data_errors
                or rec.audit_errors
                or lifecycle.prefix_audit_errors()
            )
        elif outcome == S.FAILED.value:
            default_code = (
                lifecycle.SHORT_FAILED_CODE if rec.kind == "short" else lifecycle.DEFAULT_FAILED_CODE
            )
            commit.failed_code = details.get("job_failed_code") or rec.failed_code or default_code
            commit.failed_reason = (
                details.get("job_failed_reason") or rec.failed_reason or self._failed_reason(rec)
            )
        elif outcome == S.SPLIT_FAILED.value:
            commit.failed_code = details.get("job_failed_code") or lifecycle.DEFAULT_SPLIT_FAILED_CODE
            commit.failed_reason = details.get("job_failed_reason") or lifecycle.DEFAULT_SPLIT_FAILED_REASON
        return commit

    @staticmethod
    def _short_outcome(rec: JobRecord) -> str:
        pkg = rec.package
        if pkg is None or not pkg.is_zip or not any(m.lower().endswith(".wav") for m in pkg.members):
            return S.FAILED.value
        return S.SUCCEED.value

    @staticmethod
    def _failed_reason(rec: JobRecord) -> str:
        if rec.kind == "short":
            return "The assessment data is not a zip archive holding .wav recordings."
        return lifecycle.DEFAULT_FAILED_REASON

    def set_outcome(
        self, rec: JobRecord, outcome: str | None, details: dict[str, Any], now: float, at_once: bool = False
    ) -> None:
        """Override the outcome of this and every later commit (``None`` clears the override).

        A commit still in progress is re-planned, keeping its start time (states already passed
        may change if the new path differs), and so is one held in an in-progress state by an
        earlier override. A commit that already ended (success, failure or needs-action state)
        is left alone: the override applies from the next commit on. ``at_once`` moves a commit
        in progress (or a job seeded in a fixed in-progress state) straight from the state it
        stands in to the outcome, now, with no state between (a test holds the job in what it
        asserts instead of racing the timeline).
        """
        rec.outcome_override = lifecycle.normalize_outcome(outcome) if outcome else None
        rec.override_details = dict(details)
        if "asset_id" in details:
            rec.asset_id = str(details["asset_id"])
        if at_once and rec.outcome_override and not rec.commits:
            if classify(rec.base_state) is StateClass.IN_PROGRESS:
                rec.base_state, rec.base_time = rec.outcome_override, now
                rec.failed_code = details.get("job_failed_code", rec.failed_code)
                rec.failed_reason = details.get("job_failed_reason", rec.failed_reason)
            return
        if rec.commits:
            last = rec.commits[-1]
            reached = last.position(now).state
            if reached == last.steps[-1].state and classify(reached) is not StateClass.IN_PROGRESS:
                return
            replanned = self._plan(rec, last.number, last.started_at)
            replanned.data_sequence = last.data_sequence
            replanned.time_scale = last.time_scale
            if at_once and rec.outcome_override:
                replanned.steps = _jump(last, replanned.steps[-1].state, now)
            rec.commits[-1] = replanned

    # -- seeding -----------------------------------------------------------------------------

    def seed(self, fields: dict[str, Any], default_project: str, now: float) -> JobRecord:
        """Insert a job with any fields, in any state, fixed or following a lifecycle.

        ``state`` alone pins the job in that state. ``lifecycle=True`` (or ``commit_time``,
        epoch seconds) runs the normal timeline; with ``state`` as well the job is placed at the
        start of that state and continues from there. ``create_time`` / ``lastupdate_time``
        are epoch milliseconds like the API shows. ``uploaded=True`` records a valid package.
        Unknown fields are shown verbatim in the job detail; ``omit_fields`` lists keys to leave
        out of it (a broken service: no ``state``, a ``SUCCEED`` without ``asset_id``).
        """
        kind = fields.get("kind", "voice")
        if kind not in ("voice", "short"):
            raise bad_request("kind must be 'voice' or 'short'")
        job_type = str(fields.get("job_type") or ("VOICE_ASSESS" if kind == "short" else "BASIC"))
        meta: dict[str, Any] = {"voice_name": "seeded-voice", "sex": "FEMALE", "language": "CN"}
        meta.update({"create_type": "PACKAGE", "is_ondemand_resource": False})
        meta.update({k: fields[k] for k in META_FIELDS if k in fields})
        if kind == "short":
            meta = {"language": fields.get("language", "CN")}
        create_time = float(fields["create_time"]) / 1000.0 if "create_time" in fields else now
        # Any string is accepted for a fixed state: clients must survive states they don't know.
        state = str(fields.get("state") or S.CREATING.value)
        rec = JobRecord(
            job_id=str(fields.get("job_id") or uuid.uuid4()),
            kind=kind,
            project_id=str(fields.get("project_id") or default_project),
            app_user_id=fields.get("app_user_id"),
            job_type=job_type,
            meta=meta,
            create_time=create_time,
            base_state=state,
            base_time=float(fields["lastupdate_time"]) / 1000.0 if "lastupdate_time" in fields else now,
            base_reject_times=int(fields.get("reject_times", 1 if state == S.AUDIT_FAILED.value else 0)),
            failed_code=fields.get("job_failed_code"),
            failed_reason=fields.get("job_failed_reason"),
            pinned={k: v for k, v in fields.items() if k not in _SEED_SPECIAL},
            omit_fields=tuple(str(k) for k in fields.get("omit_fields") or ()),
            seeded=True,
        )
        if fields.get("asset_id"):
            rec.asset_id = str(fields["asset_id"])
        if state in (S.FAILED.value, S.SPLIT_FAILED.value) and not rec.failed_code:
            split = state == S.SPLIT_FAILED.value
            rec.failed_code = lifecycle.DEFAULT_SPLIT_FAILED_CODE if split else lifecycle.DEFAULT_FAILED_CODE
            rec.failed_reason = rec.failed_reason or (
                lifecycle.DEFAULT_SPLIT_FAILED_REASON if split else lifecycle.DEFAULT_FAILED_REASON
            )
        if state == S.AUDIT_FAILED.value:
            rec.audit_errors = list(fields.get("audit_errors") or lifecycle.prefix_audit_errors())
        if fields.get("outcome"):
            rec.outcome_override = lifecycle.normalize_outcome(str(fields["outcome"]))
        if fields.get("uploaded"):
            self._seed_upload(rec, now)
        if fields.get("lifecycle") or fields.get("commit_time") is not None:
            self._seed_lifecycle(rec, fields, state, now)
        self.jobs[rec.job_id] = rec
        return rec

    def _seed_upload(self, rec: JobRecord, now: float) -> None:
        pairs = required_files(lifecycle.edition_of(rec.job_type))
        members = [name for pair in pairs for name in pair] if pairs and rec.kind != "short" else ["0.wav"]
        info = UploadInfo(
            object_key=f"{rec.job_id}/data.zip",
            content_type="application/zip",
            size=0,
            md5=hashlib.md5(b"", usedforsecurity=False).hexdigest(),
            uploaded_at=now,
            sequence=self.next_upload_sequence(),
            is_zip=True,
            members=members,
        )
        rec.record_upload("package", None, info)

    def _seed_lifecycle(self, rec: JobRecord, fields: dict[str, Any], state: str, now: float) -> None:
        if rec.package is None and not rec.audio_segments:
            self._seed_upload(rec, now)
        rec.base_state = S.CREATING.value
        rec.base_time = rec.create_time
        rec.base_reject_times = int(fields.get("reject_times", 0))
        commit = self._plan(rec, 1, now)
        if fields.get("commit_time") is not None:
            commit.started_at = float(fields["commit_time"])
        elif state != S.CREATING.value:
            offset = lifecycle.offset_of(commit.steps, state)
            if offset is None:
                raise bad_request(
                    f"state {state} is not on the {commit.outcome} timeline of a {rec.job_type} job: "
                    f"{[s.state for s in commit.steps]}"
                )
            commit.started_at = now - offset * self.time_scale
        rec.commits.append(commit)

    # -- assets ------------------------------------------------------------------------------

    def trained_voice(
        self, asset_id: str, project_id: str, app_user_id: str | None, now: float
    ) -> JobRecord | None:
        """The voice job whose model is asset ``asset_id``: it exists once the job ``SUCCEED``s."""
        for rec in self.jobs.values():
            if (
                rec.kind == "voice"
                and rec.asset_id == asset_id
                and visible(rec, project_id, app_user_id)
                and rec.state(now) == S.SUCCEED.value
            ):
                return rec
        return None

    # -- listing -----------------------------------------------------------------------------

    def query(
        self, project_id: str, app_user_id: str | None, q: ListQuery, now: float
    ) -> tuple[int, list[JobRecord]]:
        matched: list[tuple[JobRecord, str, float]] = []
        for rec in self.jobs.values():
            if rec.kind != "voice" or not visible(rec, project_id, app_user_id):
                continue
            pos = rec.position(now)
            if q.states is not None and pos.state not in q.states:
                continue
            values = {
                "job_id": rec.job_id,
                "voice_name": rec.meta.get("voice_name"),
                "batch_name": rec.meta.get("batch_name"),
                "tag": rec.meta.get("tag"),
                "job_type": rec.job_type,
            }
            if any(values[k] != v for k, v in q.exact.items()):
                continue
            if q.is_ondemand_resource is not None and bool(rec.meta.get("is_ondemand_resource")) != (
                q.is_ondemand_resource
            ):
                continue
            if not _within(rec.create_time, q.create_since, q.create_until):
                continue
            if not _within(pos.entered_at, q.update_since, q.update_until):
                continue
            matched.append((rec, pos.state, pos.entered_at))
        if q.sort_key == "update_time":
            matched.sort(key=lambda m: (m[2], m[0].create_time, m[0].job_id), reverse=q.sort_dir == "desc")
        else:
            matched.sort(key=lambda m: (m[0].create_time, m[0].job_id), reverse=q.sort_dir == "desc")
        page = [m[0] for m in matched[q.offset : q.offset + q.limit]]
        return len(matched), page


def _jump(commit: Commit, target: str, now: float) -> list[lifecycle.Step]:
    """The steps of ``commit`` as passed until ``now``, then ``target`` as the last state."""
    if commit.time_scale <= 0:  # every timeline has already ended
        return [lifecycle.Step(target, None)]
    passed = commit.position(now).passed
    ends = [entered for _, entered in passed[1:]] + [now]
    steps = [
        lifecycle.Step(state, (end - entered) / commit.time_scale)
        for (state, entered), end in zip(passed, ends, strict=True)
    ]
    return [*steps, lifecycle.Step(target, None)]


def _within(value: float, since: float | None, until: float | None) -> bool:
    if since is not None and value < since:
        return False
    return not (until is not None and value > until)


def visible(rec: JobRecord, project_id: str, app_user_id: str | None) -> bool:
    if rec.project_id != project_id:
        return False
    return app_user_id is None or rec.app_user_id == app_user_id


# -- views ------------------------------------------------------------------------------------


#: Words in a recording's file name that make the emulated assessment rate one property out
#: of range (how a test asks for bad recordings): property, out-of-range value, advice.
ASSESS_NAME_RULES: dict[str, tuple[str, float, str]] = {
    "noisy": ("snr", 18.0, "Record in a quiet room: the background noise is too loud."),
    "quiet": ("sound", -42.0, "Speak louder or move closer to the microphone."),
    "fast": ("speed", 7.5, "Read more slowly."),
    "echo": ("reverb", 0.6, "Record in a room with less echo (soft furnishings help)."),
}


def _assess_result(job_id: str, members: list[str] | None = None) -> dict[str, Any]:
    """A plausible, deterministic voice-quality assessment: in range, except for the properties
    the package's recording names ask to fail (:data:`ASSESS_NAME_RULES`)."""
    digest = hashlib.sha256(job_id.encode()).digest()
    names = [m.lower() for m in members or [] if m.lower().endswith(".wav")]
    failing = {rule[0]: rule for word, rule in ASSESS_NAME_RULES.items() if any(word in n for n in names)}

    def prop(name: str, expected: str, actual: float, unit: str) -> dict[str, Any]:
        if name in failing:
            _, bad, advice = failing[name]
            return {
                "expected": expected,
                "actual": f"{bad:.1f}{unit}",
                "suggestion": "不符合要求",
                "suggestion_en": advice,
                "status": 1,
            }
        return {
            "expected": expected,
            "actual": f"{actual:.1f}{unit}",
            "suggestion": "符合要求",
            "suggestion_en": "Meets the requirement",
            "status": 0,
        }

    return {
        "speed": prop("speed", "3.0-6.0 char/s", 4.0 + digest[0] / 255, " char/s"),
        "sound": prop("sound", ">= -30 dB", -25.0 + digest[1] / 51, " dB"),
        "snr": prop("snr", ">= 30 dB", 35.0 + digest[2] / 25, " dB"),
        "reverb": prop("reverb", "<= 0.3", 0.1 + digest[3] / 2550, ""),
        "dnsmos_ovrl": prop("dnsmos_ovrl", ">= 3.0", 3.2 + digest[4] / 255, ""),
        "dnsmos_bak": prop("dnsmos_bak", ">= 3.5", 3.7 + digest[5] / 255, ""),
        "suggestion": (
            "The recordings do not meet the training requirements: "
            + " ".join(r[2] for r in failing.values())
            if failing
            else "The recordings meet the training requirements."
        ),
    }


def _audited(passed: list[tuple[str, float]]) -> bool:
    return any(
        st not in (S.CREATING.value, S.SYSTEM_AUDITING.value, S.AUDIT_FAILED.value) for st, _ in passed
    )


def voice_view(rec: JobRecord, now: float, base_url: str) -> dict[str, Any]:
    """``ShowVoiceTrainingJobResponse`` / list item. ``asset_id`` appears only when SUCCEED."""
    pos = rec.position(now)
    state = pos.state
    failed_code, failed_reason = rec.failure(state)
    committed = bool(rec.commits) or rec.base_state != S.CREATING.value
    view: dict[str, Any] = {
        "job_type": rec.job_type,
        "job_id": rec.job_id,
        "app_user_id": rec.app_user_id,
        "voice_name": rec.meta.get("voice_name"),
        "sex": rec.meta.get("sex"),
        "language": rec.meta.get("language"),
        "state": state,
        "reject_times": rec.reject_times(now),
    }
    if state == S.SUCCEED.value:
        view["asset_id"] = rec.asset_id
    view.update(
        {
            "job_failed_code": failed_code,
            "job_failed_reason": failed_reason,
            "create_time": ms(rec.create_time),
            "lastupdate_time": ms(pos.entered_at),
            "voice_authorization_url": (
                f"{base_url}/_obs/{rec.job_id}/authorization/letter" if rec.authorization_letter else None
            ),
            "create_type": rec.meta.get("create_type"),
            "tag": rec.meta.get("tag"),
            "phone": rec.meta.get("phone"),
            "training_input_source_url": (
                f"{base_url}/_obs/{rec.job_id}/data.zip" if rec.package is not None else None
            ),
            "dhtms_job_id": rec.meta.get("dhtms_job_id"),
            "batch_name": rec.meta.get("batch_name"),
            "allocated_resource": (
                {
                    "resource_id": f"voice-res-{rec.job_id[:8]}",
                    "charge_mode": "ON_DEMAND" if rec.meta.get("is_ondemand_resource") else "PERIODIC",
                    "expire_time": rfc3339(rec.create_time + 365 * 86400),
                }
                if committed
                else None
            ),
            "output_language": rec.meta.get("output_language"),
            "is_remake": False,
            "assess_result": _assess_result(rec.job_id) if _audited(pos.passed) else None,
            "is_ondemand_resource": bool(rec.meta.get("is_ondemand_resource")),
        }
    )
    view.update(rec.pinned)
    for key in rec.omit_fields:
        view.pop(key, None)
    return view


def asset_view(rec: JobRecord, now: float) -> dict[str, Any]:
    """``ShowAssetResponse`` of a trained voice, the documented fields the emulator knows: an
    ``ACTIVED`` ``VOICE_MODEL`` named after the voice, made when the job reached ``SUCCEED``
    (RFC 3339). Its tags are the job's ``tag`` (an emulator choice). Unset fields are left out."""
    made = rfc3339(rec.position(now).entered_at)
    view: dict[str, Any] = {
        "project_id": rec.project_id,
        "asset_id": rec.asset_id,
        "asset_name": rec.meta.get("voice_name"),
        "asset_description": rec.meta.get("description"),
        "app_user_id": rec.app_user_id,
        "create_time": made,
        "update_time": made,
        "asset_type": "VOICE_MODEL",
        "asset_state": "ACTIVED",
        "tags": [rec.meta["tag"]] if rec.meta.get("tag") else [],
        "asset_extra_meta": {
            "voice_model_meta": {"sex": rec.meta.get("sex"), "language": rec.meta.get("language")}
        },
        "supported_service": rec.meta.get("supported_service"),
    }
    return {key: value for key, value in view.items() if value is not None}


def short_view(rec: JobRecord, now: float) -> dict[str, Any]:
    pos = rec.position(now)
    failed_code, failed_reason = rec.failure(pos.state)
    return {
        "job_type": rec.job_type,
        "job_id": rec.job_id,
        "state": pos.state,
        "job_failed_code": failed_code,
        "job_failed_reason": failed_reason,
        "create_time": ms(rec.create_time),
        "lastupdate_time": ms(pos.entered_at),
        "assess_result": (
            _assess_result(rec.job_id, rec.package.members if rec.package else None)
            if pos.state == S.SUCCEED.value
            else None
        ),
        **rec.pinned,
    }


def audit_view(rec: JobRecord, now: float) -> dict[str, Any]:
    """``ShowJobAuditResultResponse``: the latest system audit and admin (manual) audit."""
    passed = rec.position(now).passed
    system: dict[str, Any] = {"audit_time": None, "errors": []}
    admin: dict[str, Any] = {
        "message": None,
        "attachment_name": None,
        "attachment_url": None,
        "audit_time": None,
    }
    for (state, _), (nxt, t) in pairwise(passed):
        if state == S.SYSTEM_AUDITING.value:
            system["audit_time"] = ms(t)
            if nxt == S.AUDIT_FAILED.value:
                system["errors"] = rec.current_audit_errors(now)
        if state == S.AUDITING.value:
            admin.update({"message": "Approved: the recordings meet the requirements.", "audit_time": ms(t)})
    return {"system_audit_result": system, "admin_audit_result": admin}


_TRANSITION_ACTIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    (S.SYSTEM_AUDITING.value, S.AUDITING.value): [("SYSTEM_AUDIT_PASS", "SYSTEM")],
    (S.SYSTEM_AUDITING.value, S.AUDIT_FAILED.value): [("AUDIT_NOT_PASS", "SYSTEM")],
    (S.AUDITING.value, S.WAITING.value): [("ADMIN_AUDIT_PASS", "ADMIN")],
    (S.AUDITING.value, S.WAITING_SPLIT.value): [("ADMIN_AUDIT_PASS", "ADMIN")],
    (S.PROCESSING.value, S.UPLOADING.value): [("TRAINING_FINISH", "SYSTEM"), ("UPLOADING_MODEL", "SYSTEM")],
    (S.PROCESSING.value, S.RESULT_REVIEW.value): [("TRAINING_FINISH", "SYSTEM")],
    (S.PROCESSING.value, S.FAILED.value): [("TRAINING_FINISH", "SYSTEM")],
    (S.UPLOADING.value, S.SUCCEED.value): [("COMPLETE_JOB", "SYSTEM")],
}


def _op(t: float, action: str, operator: str, **info: Any) -> dict[str, Any]:
    external = {"review_id_list": None, "algorithm_failure_reason": None, "admin_audit_failure_reason": None}
    external.update(info)
    return {"time": ms(t), "action": action, "operator": operator, "external_info": external}


def _ops_for(
    passed: list[tuple[str, float]], errors: list[dict[str, Any]], failed: str | None, seed: str
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for (state, _), (nxt, t) in pairwise(passed):
        for action, operator in _TRANSITION_ACTIONS.get((state, nxt), []):
            info: dict[str, Any] = {}
            if action == "AUDIT_NOT_PASS":
                info["algorithm_failure_reason"] = "; ".join(str(e.get("error_message")) for e in errors)[
                    :512
                ]
            elif action == "ADMIN_AUDIT_PASS":
                info["review_id_list"] = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{t}"))]
            elif action == "TRAINING_FINISH" and nxt == S.FAILED.value:
                info["algorithm_failure_reason"] = failed
            ops.append(_op(t, action, operator, **info))
    return ops


def op_logs(rec: JobRecord, now: float) -> list[dict[str, Any]]:
    """Operation log, oldest first, consistent with the states passed so far."""
    ops = [_op(rec.create_time, "CREATE_JOB", "USER")]
    if not rec.commits:
        passed = rec._base_passed()
        if rec.base_state != S.CREATING.value:
            ops.append(_op(passed[0][1], "COMMIT_JOB", "USER"))
            ops += _ops_for(passed, rec.audit_errors, rec.failed_reason, rec.job_id)
        return ops
    for c in rec.commits:
        ops.append(_op(c.started_at, "COMMIT_JOB", "USER"))
        ops += _ops_for(c.position(now).passed, c.audit_errors, c.failed_reason, f"{rec.job_id}/{c.number}")
    return ops


def internal_view(rec: JobRecord, now: float, base_url: str) -> dict[str, Any]:
    """Everything the emulator knows about a job (control API ``GET /_emulator/jobs/{id}``)."""
    return {
        "job_id": rec.job_id,
        "kind": rec.kind,
        "project_id": rec.project_id,
        "app_user_id": rec.app_user_id,
        "job_type": rec.job_type,
        "meta": rec.meta,
        "state": rec.state(now),
        "base_state": rec.base_state,
        "outcome_override": rec.outcome_override,
        "override_details": rec.override_details,
        "seeded": rec.seeded,
        "commits": [c.to_dict(now) for c in rec.commits],
        "uploads": {
            "package": rec.package.to_dict() if rec.package else None,
            "audio_segments": {str(i): u.to_dict() for i, u in sorted(rec.audio_segments.items())},
            "text_segments": {str(i): u.to_dict() for i, u in sorted(rec.text_segments.items())},
            "authorization_letter": rec.authorization_letter.to_dict() if rec.authorization_letter else None,
            "attachments": {str(i): u.to_dict() for i, u in sorted(rec.attachments.items())},
        },
        "view": voice_view(rec, now, base_url) if rec.kind == "voice" else short_view(rec, now),
    }
