"""The one place where Anthropic SDK exceptions become `incident.errors` AI errors: each
SDK class is named in a table as transient (retried) or permanent (not), with a hint that
tells the user what to do next.

The SDK adds exception classes between releases. A class the table does not name takes the
verdict of its nearest named ancestor (along its MRO) and that ancestor's *family* hint: a
sentence true of every subclass ("the API rejected the request"), never the ancestor's own
specific advice. So a new `BadRequestError` subclass is retried or not as a 400 is, and is
not told something that holds only for the 400s we know.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, NamedTuple

from incident.errors import AIError, AIPermanentError, AITransientError

_KEY = "check ANTHROPIC_API_KEY"
_BILLING = "check the account's billing and spend limits in the Claude Console"

# SDK class name -> (transient?, hint). Looked up along the exception's MRO, so a new SDK
# subclass falls back to its parent's verdict (with the parent's family hint, below).
SDK_ERRORS: dict[str, tuple[bool, str]] = {
    "AnthropicError": (False, "unexpected SDK error"),
    "APIError": (False, "unexpected API error"),
    "APIStatusError": (False, "unexpected HTTP status"),
    "APIConnectionError": (
        True,
        "could not reach the API; check the network or ANTHROPIC_BASE_URL",
    ),
    "APITimeoutError": (True, "the request timed out; raise --ai-timeout if this persists"),
    "APIResponseValidationError": (False, "the API answered in an unexpected shape"),
    "APIWebhookValidationError": (False, "webhook validation failed"),
    "RetryableError": (True, "retryable SDK error"),
    "CredentialsError": (False, f"no usable credentials; {_KEY}"),
    "IdentityTokenFileError": (False, "the identity token file could not be read"),
    "WorkloadIdentityError": (False, "workload identity federation failed"),
    "BadRequestError": (False, "the API rejected the request as invalid"),
    "AuthenticationError": (False, f"authentication failed; {_KEY}"),
    "PaymentRequiredError": (False, _BILLING),
    "LinkedOrganizationBillingUnavailableError": (False, _BILLING),
    "LinkedOrganizationSpendLimitReachedError": (False, _BILLING),
    "PermissionDeniedError": (False, "the key may not use this model or feature"),
    "SandboxEgressRestrictedError": (False, "network egress to the API is restricted here"),
    "NotFoundError": (False, "not found; the model id may be wrong (check --model)"),
    "RequestTimeoutError": (True, "the API timed out the request"),
    "ConflictError": (True, "conflict; retrying"),
    "PreconditionFailedError": (False, "precondition failed"),
    "ContentTooLargeError": (False, "the request is too large; lower --max-digest-tokens"),
    "RequestBodyTooLargeAfterDecodingError": (False, "the request is too large"),
    "UnprocessableEntityError": (False, "the request could not be processed"),
    "RateLimitError": (True, "rate limited; retrying after the advertised delay"),
    "RampLimitExceededError": (True, "usage is ramping too fast; retrying"),
    "ContractSpendLimitReachedError": (False, _BILLING),
    "EnforcedSpendLimitReachedError": (False, _BILLING),
    "RequestHeaderFieldsTooLargeError": (False, "request headers too large"),
    "ClientClosedRequestError": (True, "the request was closed early"),
    "InternalServerError": (True, "server error at the API"),
    "HTTPNotImplementedError": (False, "the API does not implement this request"),
    "ServiceUnavailableError": (True, "the API is unavailable"),
    "GatewayTimeoutError": (True, "gateway timeout at the API"),
    "OverloadedError": (True, "the API is overloaded"),
    "CMEKContextUnavailableError": (True, "the customer-managed key is temporarily unavailable"),
    "CMEKKeyUnreachableError": (True, "the customer-managed key is unreachable"),
    "CMEKKeyDisabledError": (False, "the customer-managed key is disabled"),
    "CMEKKeyNetworkBlockedError": (False, "the customer-managed key is blocked by network rules"),
    "ClaudeCodeKeyCreatorNotMemberError": (False, "the key's creator left the organisation"),
    "ClaudeCodeVersionTooOldError": (False, "client too old for this key"),
    "OrganizationOnHoldError": (False, "the organisation is on hold; contact support"),
    "OrganizationTypeNotSupportedError": (False, "the organisation type is not supported"),
    "ParentOrganizationRequiredError": (False, "a parent organisation is required"),
    "RequestBodyEncodingInvalidError": (False, "the request body encoding is invalid"),
    "RequestBodyEncodingUnsupportedError": (False, "the request body encoding is unsupported"),
    # Client-side misuse raised by the SDK itself, never by the API: bugs, not retried.
    "StreamAlreadyConsumed": (False, "internal error: response stream read twice"),
    "MissingDependencyError": (False, "an optional SDK dependency is missing"),
    "MutuallyExclusiveAuthError": (False, "conflicting credentials configured"),
    "ToolsetUsageError": (False, "SDK toolset misuse"),
}


# What is true of every subclass of a named class, for classes the table does not name.
# Classes missing here give their own hint to subclasses: it is generic already.
FAMILY_HINTS: dict[str, str] = {
    "APIStatusError": "the API answered with an error status",
    "BadRequestError": "the API rejected the request (HTTP 400)",
    "AuthenticationError": "authentication failed (HTTP 401)",
    "PaymentRequiredError": "the API asked for payment (HTTP 402)",
    "PermissionDeniedError": "permission denied (HTTP 403)",
    "NotFoundError": "the API answered not found (HTTP 404)",
    "ConflictError": "the API reported a conflict (HTTP 409); retrying",
    "ContentTooLargeError": "the request is too large (HTTP 413)",
    "UnprocessableEntityError": "the request could not be processed (HTTP 422)",
    "RateLimitError": "rate limited (HTTP 429); retrying",
    "InternalServerError": "server error at the API; retrying",
    "ServiceUnavailableError": "the API is unavailable (HTTP 503); retrying",
    "OverloadedError": "the API is overloaded; retrying",
    "APIConnectionError": "could not reach the API; check the network or ANTHROPIC_BASE_URL",
    "CredentialsError": f"no usable credentials; {_KEY}",
}


class Verdict(NamedTuple):
    """How one SDK exception is handled: retried or not, what to tell the user, and which
    table entry decided it (`via` differs from the class name when it was inherited)."""

    transient: bool
    hint: str
    via: str


def resolve(cls: type[BaseException]) -> Verdict | None:
    """The verdict for an SDK exception class, None for a class that is not the SDK's."""
    for base in cls.__mro__:
        found = SDK_ERRORS.get(base.__name__)
        if found is None or not base.__module__.startswith("anthropic"):
            continue
        transient, hint = found
        if base is not cls:
            hint = FAMILY_HINTS.get(base.__name__, hint)
        return Verdict(transient, hint, base.__name__)
    return None


def classify(exc: BaseException) -> tuple[bool, str] | None:
    """(transient, hint) for an SDK exception, None for anything that is not one."""
    verdict = resolve(type(exc))
    return None if verdict is None else (verdict.transient, verdict.hint)


def translate(exc: BaseException) -> AIError:
    """The incident error for an SDK exception, with a one-line reason."""
    verdict = classify(exc)
    transient, hint = verdict if verdict is not None else (False, "unexpected error")
    status = getattr(exc, "status_code", None)
    kind = getattr(exc, "type", None)
    api_message = getattr(exc, "api_message", None) or ""
    parts = [f"Claude API {status}" if status else "Claude API", kind or type(exc).__name__]
    text = " ".join(str(p) for p in parts)
    detail = api_message.strip().splitlines()[0][:200] if api_message.strip() else ""
    reason = f"{text}: {detail}; {hint}" if detail else f"{text}: {hint}"
    request_id = getattr(exc, "request_id", None)
    if request_id:
        reason += f" (request-id {request_id})"
    return AITransientError(reason) if transient else AIPermanentError(reason)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass  # malformed: fall through to retry-after
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not seconds: an HTTP date, tried next
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())
