"""The tools' input schemas (a small JSON Schema subset) and the check of a call's arguments
against them: hand-written, so a bad argument from the model or an MCP client comes back as
one line naming it, and no schema library is needed.

Supported: `type` object at the top with `properties`, `required` and
`additionalProperties: false`; per property `type` string, integer, number, boolean or
array (of one item schema), `enum`, `minimum`/`maximum`, `minLength`/`maxLength`,
`minItems`/`maxItems`, `default`, `description`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Schema = dict[str, Any]


class ArgumentError(ValueError):
    """An argument that does not fit the tool's schema; the message is one line."""


def obj(properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """A closed object schema."""
    out: Schema = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    out["required"] = list(required)
    return out


def text(
    description: str,
    *,
    max_length: int = 200,
    enum: tuple[str, ...] = (),
    default: str | None = None,
) -> Schema:
    out: Schema = {"type": "string", "description": description}
    if default is not None:
        out["default"] = default
    if enum:
        out["enum"] = list(enum)
    else:
        out["minLength"] = 1
        out["maxLength"] = max_length
    return out


def integer(description: str, *, minimum: int, maximum: int, default: int) -> Schema:
    return {
        "type": "integer",
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
        "default": default,
    }


def check(schema: Schema, arguments: Any) -> dict[str, Any]:
    """The arguments with defaults filled in, or ArgumentError naming the first bad one."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ArgumentError("arguments must be a JSON object")
    props: dict[str, Schema] = schema.get("properties", {})
    unknown = sorted(str(k) for k in arguments if k not in props)
    if unknown:
        allowed = ", ".join(props) or "none"
        raise ArgumentError(f"unknown argument {unknown[0]!r} (allowed: {allowed})")
    out: dict[str, Any] = {}
    for name in schema.get("required", []):
        if arguments.get(name) is None:
            raise ArgumentError(f"missing required argument {name!r}")
    for name, spec in props.items():
        value = arguments.get(name)
        if value is None:
            if "default" in spec:
                out[name] = spec["default"]
            continue
        out[name] = _value(name, spec, value)
    return out


def _value(name: str, spec: Schema, value: Any) -> Any:
    kind = spec.get("type")
    if kind == "string":
        if not isinstance(value, str):
            raise ArgumentError(f"argument {name!r} must be a string")
        if "enum" in spec and value not in spec["enum"]:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(spec['enum'])}")
        if len(value) < spec.get("minLength", 0):
            raise ArgumentError(f"argument {name!r} must not be empty")
        if len(value) > spec.get("maxLength", 1 << 30):
            raise ArgumentError(f"argument {name!r} is longer than {spec['maxLength']} characters")
        return value
    if kind in ("integer", "number"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if kind == "number":
            ok = ok or isinstance(value, float)
        elif isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if not ok:
            raise ArgumentError(
                f"argument {name!r} must be {'an' if kind[0] == 'i' else 'a'} {kind}"
            )
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ArgumentError(f"argument {name!r} must be between {lo} and {hi}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise ArgumentError(f"argument {name!r} must be a list")
        lo, hi = spec.get("minItems", 0), spec.get("maxItems", 1 << 30)
        if not lo <= len(value) <= hi:
            raise ArgumentError(f"argument {name!r} must hold {lo} to {hi} items")
        item = spec.get("items", {})
        return [_value(f"{name}[{i}]", item, v) for i, v in enumerate(value)]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ArgumentError(f"argument {name!r} must be true or false")
        return value
    return value
