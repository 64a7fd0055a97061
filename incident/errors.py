"""The one exception tree of `incident`; the CLI maps each branch to an exit code.

    IncidentError                 root: anything the tool expects to go wrong
    ├── InputError                exit 2: an input is unusable as a whole (names the file)
    │   ├── UnreadableInputError  missing, unreadable, not UTF-8, corrupt .gz, binary
    │   ├── EmptyInputError       empty file, empty directory, nothing recognised inside
    │   └── FormatError           parses, but is not a shape we know, or is malformed JSON
    ├── UsageError                exit 2: flags that do not make sense together
    └── AIError                   the model step failed (exit 3 only with --require-ai)
        ├── AITransientError      429, 529, 5xx, connection errors, timeouts: retried
        └── AIPermanentError      400, 401, 403, 404, refusals, invalid answers: not retried

Anything else that escapes is a bug: exit 1 with a message asking for a report.
Foreign exceptions are translated where they are caught (`raise X from exc`), never
allowed to reach the CLI as themselves.
"""

from __future__ import annotations


class IncidentError(Exception):
    """Root of every error the tool raises on purpose."""

    exit_code = 1


class InputError(IncidentError):
    """An input that cannot be used at all: one line naming the file and the problem."""

    exit_code = 2

    def __init__(self, path: str, problem: str, expected: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.expected = expected
        text = f"{path}: {problem}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class UnreadableInputError(InputError):
    """The bytes could not be read or decoded (missing, permissions, encoding, gzip)."""


class EmptyInputError(InputError):
    """Nothing in the input: an empty file, an empty directory, no recognisable records."""


class FormatError(InputError):
    """The content parses poorly or has a shape no reader knows."""


class UsageError(IncidentError):
    """Flags or arguments that cannot work together."""

    exit_code = 2


class AIError(IncidentError):
    """The model step failed; the deterministic report is still produced."""

    exit_code = 3


class AITransientError(AIError):
    """A failure worth retrying: rate limit, overload, server error, network, timeout."""


class AIPermanentError(AIError):
    """A failure that retrying will not fix: auth, bad request, refusal, invalid answer."""
