"""The base of every config section: unknown keys refused, booleans refused for numbers, and the
validators several sections share (ISO dates, spans of candles or durations)."""

from __future__ import annotations

import datetime as _dt
import re
import typing
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cryptotrain.config.yaml_reader import quote


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is or contains int or float (Optional[int], list[Period], ...)."""
    if annotation in (int, float):
        return True
    return any(_numeric(a) for a in typing.get_args(annotation))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, raw: Any) -> Any:
        # pydantic reads true as 1 for an int field; a boolean given for a number is a mistake
        if isinstance(raw, dict):
            for name, value in raw.items():
                field = cls.model_fields.get(name)
                items = value if isinstance(value, list) else [value]
                if field is not None and _numeric(field.annotation) and any(isinstance(v, bool) for v in items):
                    raise ValueError(f"{name} needs a number, not the boolean {str(value).lower()}")
        return raw


Period = Annotated[int, Field(ge=1)]      # a look-back length in candles
Window2 = Annotated[int, Field(ge=2)]     # a window that needs a standard deviation


def _iso(value: Any) -> Any:
    """A UTC date or ISO datetime (or integer ms) as a string; an impossible date is refused here."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and not re.fullmatch(r"\s*-?\d{10,}\s*", value):
        try:
            _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{quote(value)} is not a valid date; use a UTC date or ISO datetime, "
                             "e.g. 2024-01-31 or 2024-01-31T12:00") from None
    return value


# A duration in minutes, hours or days ("365d", "12h", "4h"): walk-forward spans and context
# timeframes (weeks are left out: epoch weeks start on Thursdays). data/timestamps.timeframe_to_ms
# turns it into milliseconds.
DURATION_RE = r"[1-9][0-9]*[mhd]"
Span = Optional[typing.Union[Annotated[int, Field(ge=1)], str]]  # candles, or a duration


def _span(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(DURATION_RE, v.strip()):
        raise ValueError(f"{quote(v)} is not a span; give a candle count (e.g. 500) or a duration such as "
                         "365d, 30d or 12h")
    return v.strip() if isinstance(v, str) else v
