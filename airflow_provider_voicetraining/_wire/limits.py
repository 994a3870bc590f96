"""How much of an answer the provider accepts: one table of the bounds, documented in docs/hook.md.

A job detail is a few KB and a page of 100 jobs tens of KB (measured on the emulator: 1.6 KB
and 160 KB), so the caps leave a wide margin for fields the service adds while keeping one
hostile or broken answer to a bounded cost: at most one capped body in memory per call, a
bounded message in every exception, log line and trigger event.
"""

from __future__ import annotations

#: Largest body accepted for an object answer (job detail, audit result, upload URLs, IAM
#: token, quotas), after decompression.
MAX_OBJECT_BODY = 256 * 1024
#: Largest body accepted for a page of ``GET .../user/jobs`` (up to 100 jobs).
MAX_PAGE_BODY = 4 * 1024 * 1024
#: How much of an error answer is read: enough for ``error_code`` and ``error_msg``.
MAX_ERROR_BODY = 64 * 1024
#: Deepest nesting of a JSON answer (the API's deepest is 4: ``assess_result`` properties).
MAX_JSON_DEPTH = 32
#: Answers above this size are parsed in a worker thread, so the triggerer's loop never waits.
PARSE_IN_THREAD_ABOVE = 64 * 1024
#: Server text copied into a message (``error_msg``; ``error_code``, ``X-Request-Id``: below).
MAX_SERVER_TEXT = 500
MAX_SERVER_CODE = 64
MAX_REQUEST_ID = 64
#: Fields the service returns that this version does not know are kept in ``job.extra`` up to
#: this many bytes of JSON (they travel in XCom and trigger events).
MAX_EXTRA_FIELDS = 16 * 1024
#: Longest exception message, log line argument or trigger-event message the provider writes.
MAX_MESSAGE = 2000
#: A presigned upload may take ``timeout + size / MIN_UPLOAD_RATE`` seconds (bytes per second).
MIN_UPLOAD_RATE = 256 * 1024
#: Connect within this many seconds (or ``timeout`` if smaller).
MAX_CONNECT_TIMEOUT = 10.0
