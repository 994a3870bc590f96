"""The API's vocabulary: enumerations and field limits of the voice-training endpoints.

One definition for both sides of the wire: the client checks a request against it before
sending, the emulator checks what it receives. Values from the official SDK models
(``huaweicloudsdkmetastudio`` 3.1.219); the length limits are not documented and are this
project's (generous) choice. Pure data: no Airflow import (the emulator runs without Airflow).
"""

from __future__ import annotations

#: edition -> (create path segment, job_type)
EDITIONS: dict[str, tuple[str, str]] = {
    "basic": ("basic-jobs", "BASIC"),
    "middle": ("middle-jobs", "MIDDLE"),
    "advance": ("advance-jobs", "ADVANCE"),
    "third_party": ("third-party-jobs", "THIRD_PARTY"),
}
SEXES = ("FEMALE", "MALE")
LANGUAGES = ("CN", "EN")
TAGS = ("ECOMMERCE", "NEWS", "MARKETING", "LIVE", "EDUCATION", "CUSTOMER", "STORYTELLING")
CREATE_TYPES = ("PACKAGE", "SEGMENT")
SUPPORTED_SERVICES = ("VIDEO_2D", "LIVE_2D", "CHAT_2D")
JOB_TYPES = ("BASIC", "MIDDLE", "ADVANCE", "THIRD_PARTY", "THIRD_PARTY_LJZN", "FLEXUS")
SHORT_JOB_TYPES = ("VOICE_ASSESS",)
SORT_KEYS = ("create_time", "update_time")
SORT_DIRS = ("asc", "desc")
MAX_PAGE = 100
MAX_INT = 2147483647

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
