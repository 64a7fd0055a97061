"""The one place where Anthropic SDK exceptions become `incident.errors` AI errors: each
SDK class is named in a table as transient (retried) or permanent (not), with a hint that
tells the user what to do next."""

from __future__ import annotations

import email.utils
import time
from typing import Any

from incident.errors import AIError, AIPermanentError, AITransientError

_KEY = "check ANTHROPIC_API_KEY"
_BILLING = "check the account's billing and spend limits in the Claude Console"

# SDK class name -> (transient?, hint). Looked up along the exception's MRO, so a new SDK
# subclass falls back to its parent's verdict; the tests check every known class is listed.
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
    "BadRequestError": (False, "the request was rejected; the model id may be wrong"),
    "AuthenticationError": (False, f"authentication failed; {_KEY}"),
    "PaymentRequiredError": (False, _BILLING),
    "LinkedOrganizationBillingUnavailableError": (False, _BILLING),
    "LinkedOrganizationSpendLimitReachedError": (False, _BILLING),
    "PermissionDeniedError": (False, "the key may not use this model or feature"),
    "SandboxEgressRestrictedError": (False, "network egress to the API is restricted here"),
    "NotFoundError": (False, "not found; check --model / INCIDENT_MODEL"),
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


def classify(exc: BaseException) -> tuple[bool, str] | None:
    """(transient, hint) for an SDK exception, None for anything that is not one."""
    for cls in type(exc).__mro__:
        found = SDK_ERRORS.get(cls.__name__)
        if found is not None and cls.__module__.startswith("anthropic"):
            return found
    return None


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
