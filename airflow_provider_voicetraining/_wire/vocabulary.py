"""The API's vocabulary: editions, enumerations, field and numeric limits. One table of each fact.

Both sides of the wire read these tables: the hook checks requests against them before sending,
and the emulator refuses what the service would refuse. Values come from the official SDK
models (``huaweicloudsdkmetastudio`` 3.1.219) and the reference; text-length limits are not
documented and are this project's (generous) choice. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASSESS_PROPERTIES",
    "COMMIT_FIELDS",
    "CREATE_FIELDS",
    "CREATE_TYPES",
    "EDITIONS",
    "JOB_TYPES",
    "LANGUAGES",
    "MAX_INT",
    "MAX_PAGE",
    "MAX_SEGMENT_INDEX",
    "QUOTA_KEYS",
    "REGION_RATE_LIMITS",
    "SEXES",
    "SHORT_JOB_TYPES",
    "SORT_DIRS",
    "SORT_KEYS",
    "SUPPORTED_SERVICES",
    "TAGS",
    "TEXT_LIMITS",
    "Edition",
    "RateLimits",
    "edition_by_job_type",
    "rate_limits",
]


@dataclass(frozen=True)
class Edition:
    """One voice-training edition and what its create endpoint and training data look like.

    :param name: the provider's name for it (``basic`` ...), as operators and the hook take it.
    :param job_type: the API's ``job_type`` (``BASIC`` ...).
    :param path: the create endpoint's last path segment (``P/user/basic-jobs``).
    :param sentences: sentence pairs a PACKAGE zip must hold (``0.wav``/``0.txt`` ...), or
        ``None`` for the editions trained from one long recording (any ``.wav``).
    :param splits: the service splits and annotates the long recording (extra job states).
    :param summary: what a user must know to pick it.
    :param quota_key: its counter in ``resource_available_nums`` of ``GET P/quotas`` (how many
        trainings of this edition the tenant has left).
    :param on_demand_quota_key: the counter of its pay-per-use (``is_ondemand_resource``) jobs,
        if the service keeps one; ``None``: pay-per-use jobs of this edition are not counted.
    """

    name: str
    job_type: str
    path: str
    sentences: int | None
    splits: bool
    summary: str
    quota_key: str
    on_demand_quota_key: str | None = None

    @property
    def operation(self) -> str:
        """Name of the create call (errors, logs, the emulator's route names)."""
        return f"create_{self.name}_job"

    def quota_key_for(self, on_demand: bool = False) -> str | None:
        """Return the ``resource_available_nums`` key a new job of this edition draws on.

        :param on_demand: the job uses pay-per-use resources (``is_ondemand_resource=True``).
        """
        return self.on_demand_quota_key if on_demand else self.quota_key

    @property
    def segment_uploads(self) -> bool:
        """SEGMENT mode (one upload URL per sentence) exists only for sentence editions."""
        return self.sentences is not None


#: name -> edition (create endpoints 1-4 of the reference).
EDITIONS: dict[str, Edition] = {
    e.name: e
    for e in (
        Edition("basic", "BASIC", "basic-jobs", 20, False, "20 sentences", "basic"),
        Edition(
            "middle",
            "MIDDLE",
            "middle-jobs",
            100,
            False,
            "100 sentences ('advanced' in the docs)",
            "middle",
            "middle_on_demand",
        ),
        Edition(
            "advance", "ADVANCE", "advance-jobs", None, True, "one long recording ('premium')", "advance"
        ),
        Edition(
            "third_party",
            "THIRD_PARTY",
            "third-party-jobs",
            None,
            True,
            "third-party engine",
            "third_party_cmww",
        ),
    )
}

#: Every counter of ``resource_available_nums`` (``GET P/quotas``; SDK ``ResourceAvailableNums``).
#: ``flexus`` belongs to no edition with a create endpoint.
QUOTA_KEYS = ("flexus", "basic", "middle", "middle_on_demand", "advance", "third_party_cmww")


def edition_by_job_type(job_type: str) -> Edition | None:
    """Return the edition whose jobs carry ``job_type`` (``None`` if it has no create endpoint)."""
    return next((e for e in EDITIONS.values() if e.job_type == job_type), None)


SEXES = ("FEMALE", "MALE")
LANGUAGES = ("CN", "EN")
TAGS = ("ECOMMERCE", "NEWS", "MARKETING", "LIVE", "EDUCATION", "CUSTOMER", "STORYTELLING")
CREATE_TYPES = ("PACKAGE", "SEGMENT")
SUPPORTED_SERVICES = ("VIDEO_2D", "LIVE_2D", "CHAT_2D")
JOB_TYPES = ("BASIC", "MIDDLE", "ADVANCE", "THIRD_PARTY", "THIRD_PARTY_LJZN", "FLEXUS")
SHORT_JOB_TYPES = ("VOICE_ASSESS",)
#: What a voice assessment (short job, ``AssessResult``) rates, each an ``AssessProperty`` with
#: ``expected``, ``actual``, ``suggestion``/``suggestion_en`` and ``status`` (non-zero: out of range).
ASSESS_PROPERTIES = ("speed", "sound", "snr", "reverb", "dnsmos_ovrl", "dnsmos_bak")
SORT_KEYS = ("create_time", "update_time")
SORT_DIRS = ("asc", "desc")
#: ``limit`` of list calls (jobs, quotas, op-logs): 1..100.
MAX_PAGE = 100
#: Upper bound of ``offset`` and of the documented integer fields.
MAX_INT = 2147483647
#: Highest sentence / attachment index the segment endpoints accept (``index``, ``start_number``).
MAX_SEGMENT_INDEX = 1024


@dataclass(frozen=True)
class RateLimits:
    """Documented per-tenant, per-API request rates of one region (requests per second).

    :param queries: show, list, op-logs, upload address, audit result (each API on its own).
    :param writes: create, commit, delete, set batch.
    """

    queries: float
    writes: float


#: MetaStudio's throttling per region (reference section 9); a region not listed gets the
#: lowest documented values.
REGION_RATE_LIMITS: dict[str, RateLimits] = {
    "cn-north-4": RateLimits(queries=20, writes=10),
    "cn-east-3": RateLimits(queries=10, writes=3),
    "ap-southeast-3": RateLimits(queries=10, writes=3),
}
DEFAULT_RATE_LIMITS = RateLimits(queries=10, writes=3)


def rate_limits(region: str) -> RateLimits:
    """Return the documented rates of ``region`` (the lowest documented ones if unknown)."""
    return REGION_RATE_LIMITS.get(region, DEFAULT_RATE_LIMITS)


#: Free-text fields of create / commit bodies (and the X-App-UserId header): maximum lengths.
TEXT_LIMITS: dict[str, int] = {
    "voice_name": 256,
    "description": 1024,
    "phone": 32,
    "dhtms_job_id": 64,
    "batch_name": 256,
    "output_language": 32,
    "custom_text": 1024,
    "app_user_id": 64,
}

#: Optional create fields (``voice_name`` is required and passed on its own).
CREATE_FIELDS = (
    "tag",
    "description",
    "sex",
    "language",
    "create_type",
    "phone",
    "dhtms_job_id",
    "batch_name",
    "output_language",
    "custom_text",
    "is_ondemand_resource",
    "supported_service",
)
#: Every field of the commit body (``CommitJobReq``); all optional.
COMMIT_FIELDS = (
    "tag",
    "description",
    "sex",
    "voice_name",
    "language",
    "phone",
    "app_user_id",
    "output_language",
    "custom_text",
)
