"""What a field event is: the JSON body of POST /events, validated strictly (no unknown fields, no
type coercion such as a number for a string), and its canonical form for the idempotency check."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
# Android application id: two or more dot-separated segments, each starting with a letter
Package = Annotated[str, StringConstraints(max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]
ACTIONS = ("install", "update", "rollback", "uninstall")


class FieldEvent(BaseModel):
    """One app push to a set of devices."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_id: EventId
    device_ids: list[DeviceId] = Field(min_length=1)
    app_package: Package
    version: Text
    action: Literal[ACTIONS]
    time: AwareDatetime                    # ISO 8601 with a zone: 2026-11-20T12:00:00Z
    operator: Text

    @field_validator("device_ids")
    @classmethod
    def _unique(cls, ids: list[str]) -> list[str]:
        seen, dups = set(), []
        for d in ids:
            if d in seen:
                dups.append(d)
            seen.add(d)
        if dups:
            raise ValueError(f"device_ids must be unique; repeated: {', '.join(sorted(set(dups))[:5])}")
        return ids

    @field_validator("version", "operator")
    @classmethod
    def _printable(cls, text: str) -> str:
        # control characters (NUL cannot even be stored) and lone surrogates (not UTF-8) are refused
        bad = next((c for c in text if ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF), None)
        if bad is not None:
            raise ValueError(f"must not contain control characters or unpaired surrogates (found U+{ord(bad):04X})")
        if text != text.strip():
            raise ValueError("must not start or end with white space")
        return text

    @field_validator("time")
    @classmethod
    def _plausible(cls, t: dt.datetime) -> dt.datetime:
        if not dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc) <= t <= dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc):
            raise ValueError("time must lie between 2000 and 2100")
        return t

    def utc_time(self) -> dt.datetime:
        return self.time.astimezone(dt.timezone.utc)

    def canonical(self) -> dict:
        """The event as stored: time in UTC, device ids sorted (their order carries no meaning)."""
        return {"event_id": self.event_id, "device_ids": sorted(self.device_ids), "app_package": self.app_package,
                "version": self.version, "action": self.action,
                "time": self.utc_time().isoformat().replace("+00:00", "Z"), "operator": self.operator}

    def body_sha256(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
