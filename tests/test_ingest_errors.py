"""Inputs that are unusable as a whole raise the right InputError, naming the file, the
problem and what was expected; and no byte string at all (random, truncated, bit-flipped,
absurdly nested) makes `load` raise anything else or hang."""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.errors import (
    EmptyInputError,
    FormatError,
    InputError,
    UnreadableInputError,
    UsageError,
)
from incident.ingest import load

TRACES = Path(__file__).resolve().parent / "fixtures" / "traces"
SMALL_FIXTURES = [
    "skew.json",
    "otlp2jaeger-in.json",
    "traceWithOverlappingChildrenLongerThanParent.json",
    "messaging-kafka.json",
]


def _write(tmp_path: Path, data: bytes, name: str = "input") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _error(tmp_path: Path, data: bytes, name: str = "input") -> InputError:
    path = _write(tmp_path, data, name)
    with pytest.raises(InputError) as info:
        load([path])
    assert str(info.value).startswith(path), "the message must name the file first"
    assert info.value.path == path
    return info.value


# --- whole-file problems, one per error class -------------------------------------------------


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    """A path that does not exist says so and what would have worked."""
    missing = str(tmp_path / "nope.json")
    with pytest.raises(UnreadableInputError, match="no such file"):
        load([missing])


def test_unreadable_file_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the OS refuses to read is reported as such, not as a traceback (simulated:
    the tests may run as root, which reads every file)."""
    path = _write(tmp_path, b"{}")

    def refuse(name: str, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(UnreadableInputError, match="permission denied"):
        load([path])


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_empty_or_blank_file_is_empty(tmp_path: Path, data: bytes) -> None:
    """Nothing but whitespace is an EmptyInputError."""
    assert isinstance(_error(tmp_path, data), EmptyInputError)


def test_binary_file_is_unreadable(tmp_path: Path) -> None:
    """Bytes that are neither text nor OTLP protobuf are refused as binary."""
    err = _error(tmp_path, bytes(range(256)) * 4)
    assert isinstance(err, UnreadableInputError) and "binary" in err.problem


def test_truncated_json_is_a_format_error(tmp_path: Path) -> None:
    """Half a Jaeger export is malformed JSON, and the message says truncated."""
    data = (TRACES / "genaiTestTrace.json").read_bytes()
    err = _error(tmp_path, data[: len(data) // 2])
    assert isinstance(err, FormatError) and "truncated" in err.problem


def test_truncated_otlp_json_is_a_format_error(tmp_path: Path) -> None:
    """The typed OTLP fast path reports truncation the same way."""
    data = (TRACES / "otlp2jaeger-in.json").read_bytes()
    err = _error(tmp_path, data[:900])
    assert isinstance(err, FormatError) and "truncated" in err.problem


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b'{"hello": "world", "answer": 42}', "keys: answer, hello"),
        (b"[1, 2, 3]", "array"),
        (b'{"resourceSpans": "not a list"}', "resourceSpans"),
        (b'[{"a": 1}, {"b": 2}]', "2 items"),
    ],
)
def test_json_of_an_unknown_shape_is_a_format_error(tmp_path: Path, data: bytes, hint: str) -> None:
    """Valid JSON that no reader knows says what it looked like and what was expected."""
    err = _error(tmp_path, data)
    assert isinstance(err, FormatError)
    assert hint in err.problem and err.expected and "OTLP" in err.expected


def test_spans_all_of_the_wrong_type_leave_nothing_usable(tmp_path: Path) -> None:
    """OTLP whose every span is malformed has no usable records: EmptyInputError with a count."""
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}, {"name": []}]}]}]}
    err = _error(tmp_path, json.dumps(doc).encode())
    assert isinstance(err, EmptyInputError) and "2 skipped" in err.problem


def test_jaeger_answer_without_traces_is_empty(tmp_path: Path) -> None:
    """A Jaeger API response that found nothing is recognised and reported as empty."""
    err = _error(tmp_path, b'{"data": [], "total": 0, "limit": 0, "offset": 0, "errors": null}')
    assert isinstance(err, EmptyInputError) and err.problem == "no records"


def test_not_utf8_text_is_unreadable(tmp_path: Path) -> None:
    """Text in another encoding is refused with the offset of the first bad byte."""
    err = _error(tmp_path, b"2024-01-01 ERROR caf\xe9 failed\n" * 3)
    assert isinstance(err, UnreadableInputError) and "UTF-8" in err.problem


@pytest.mark.parametrize("opener", [b"[", b'{"a":', b'{"resourceSpans":['])
def test_absurdly_deep_nesting_is_a_format_error(tmp_path: Path, opener: bytes) -> None:
    """100,000 levels of nesting hit msgspec's limit; no RecursionError escapes."""
    err = _error(tmp_path, opener * 100_000)
    assert isinstance(err, FormatError)


def test_corrupt_gzip_is_unreadable(tmp_path: Path) -> None:
    """A gzip header followed by garbage is refused as corrupt."""
    err = _error(tmp_path, b"\x1f\x8b\x08\x00" + b"garbage" * 10, name="x.json.gz")
    assert isinstance(err, UnreadableInputError) and "gzip" in err.problem


def test_truncated_gzip_is_unreadable(tmp_path: Path) -> None:
    """A gzip cut short is refused, not read as far as it goes."""
    data = gzip.compress((TRACES / "skew.json").read_bytes())
    err = _error(tmp_path, data[: len(data) // 2])
    assert isinstance(err, UnreadableInputError) and "gzip" in err.problem


def test_empty_directory_is_empty(tmp_path: Path) -> None:
    """A directory without files is an EmptyInputError naming the directory."""
    (tmp_path / "sub").mkdir()
    with pytest.raises(EmptyInputError, match="empty directory"):
        load([str(tmp_path)])


def test_directory_of_unrecognised_files_is_empty(tmp_path: Path) -> None:
    """A directory whose files are all unusable is an error, not an empty success."""
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02\x03" * 10)
    (tmp_path / "b.json").write_bytes(b'{"unrelated": true}')
    with pytest.raises(EmptyInputError, match="none of its 2 files"):
        load([str(tmp_path)])


def test_no_inputs_at_all_is_a_usage_error() -> None:
    """Calling load with nothing to read is the caller's mistake."""
    with pytest.raises(UsageError):
        load([])


# --- nothing but InputError, whatever the bytes ----------------------------------------------


def _check_only_input_errors(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, data)
    try:
        bundle = load([path])
    except InputError:
        return
    assert bundle.spans or bundle.logs or bundle.alerts or bundle.notices


_FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_input_errors(tmp_path: Path, data: bytes) -> None:
    """Random bytes are read or refused with an InputError, never another exception."""
    _check_only_input_errors(tmp_path, data)


@_FUZZ
@given(
    st.sampled_from(SMALL_FIXTURES),
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from(["truncate", "flip", "both", "gzip-truncate"]),
)
def test_mutated_real_files_raise_only_input_errors(
    tmp_path: Path, name: str, seed: int, how: str
) -> None:
    """Real exports cut short or with random bytes changed never crash the reader."""
    rng = random.Random(seed)
    data = bytearray((TRACES / name).read_bytes())
    if how in ("flip", "both"):
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    if how in ("truncate", "both"):
        data = data[: rng.randrange(len(data))]
    if how == "gzip-truncate":
        packed = gzip.compress(bytes(data))
        data = bytearray(packed[: rng.randrange(len(packed) + 1)])
    _check_only_input_errors(tmp_path, bytes(data))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "data",
                    "processes",
                    "id",
                    "kind",
                    "attributes",
                    "value",
                    "stringValue",
                    "batches",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@_FUZZ
@given(_JSON)
def test_arbitrary_json_with_trace_like_keys_raises_only_input_errors(
    tmp_path: Path, value: object
) -> None:
    """JSON built from trace-format keys in random shapes is read or refused cleanly."""
    _check_only_input_errors(tmp_path, json.dumps(value).encode())


@_FUZZ
@given(st.lists(st.sampled_from([*SMALL_FIXTURES, "garbage"]), min_size=1, max_size=5))
def test_jsonl_of_random_documents_raises_only_input_errors(
    tmp_path: Path, parts: list[str]
) -> None:
    """Minified exports and garbage concatenated as lines are read or refused cleanly."""
    lines = []
    for part in parts:
        if part == "garbage":
            lines.append("{not json")
        else:
            lines.append(json.dumps(json.loads((TRACES / part).read_text())))
    _check_only_input_errors(tmp_path, "\n".join(lines).encode())
