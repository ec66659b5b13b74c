"""The `sessions:` section of the configuration, parsed and checked once (conf/base/sessions.yml).

Every transform takes a ``SessionsConfig``, the full configuration dict, or just its ``sessions``
section: ``SessionsConfig.of(x)`` accepts all three, so tests can pass the shipped ``conf``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
DAY_S = 86400


def parse_seconds(value, what: str = "duration") -> int:
    """``300``, ``"300"``, ``"5m"``, ``"5 minutes"``, ``"1 hour"``, ``"1d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = int(value)
    else:
        m = _DURATION.match(str(value))
        unit = (m.group(2).lower() if m else "")
        unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _UNITS else unit
        if not m or (unit and unit not in _UNITS):
            raise ValueError(f"{what}: cannot read {value!r} as a duration (e.g. 300, '5 minutes', '1h', '1 day')")
        seconds = int(m.group(1)) * _UNITS[unit or "s"]
    if seconds <= 0:
        raise ValueError(f"{what}: must be positive, got {value!r}")
    return seconds


def _day_bucket(value, what: str, minimum: int = 1) -> int:
    seconds = parse_seconds(value, what)
    if seconds < minimum or seconds > DAY_S or DAY_S % seconds:
        raise ValueError(f"{what}: {value!r} must lie between {minimum} s and 1 day and divide the day evenly "
                         "(so every window or bucket falls inside one date partition)")
    return seconds


@dataclass(frozen=True)
class Counter:
    name: str
    events: tuple[str, ...]
    duration_field: str | None = None


@dataclass(frozen=True)
class LineCounter:
    name: str
    tag: str | None = None
    message_regex: str | None = None


@dataclass(frozen=True)
class SessionsConfig:
    idle_timeout_s: int = 1800
    start_events: tuple[str, ...] = ("CHANGE_CONTENT",)
    reset_events: tuple[str, ...] = ("BOOT_COMPLETED", "STANDBY_EXIT")
    end_events: tuple[str, ...] = ("STANDBY_ENTER",)
    content_event: str = "CHANGE_CONTENT"
    content_fields: tuple[tuple[str, str], ...] = (("content_id", "content_id"), ("channel", "channel"), ("uri", "uri"))
    counters: tuple[Counter, ...] = ()
    line_counters: tuple[LineCounter, ...] = ()
    error_levels: tuple[str, ...] = ("ERROR", "FATAL")
    levels: tuple[str, ...] = ("VERBOSE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
    id_enabled: bool = True
    id_regex: str | None = r"blk_-?\d+"
    id_per_device: bool = False
    fixed_enabled: bool = True
    fixed_size_s: int = 3600
    sliding_enabled: bool = True
    sliding_size_s: int = 600
    sliding_slide_s: int = 300
    max_length: int = 0
    sequence_lines: str | None = "var_event_type IS NOT NULL"   # SQL condition: lines in a session's template_seq
    bucket_s: int = 300
    dates: tuple[str, ...] | None = None
    lookback_days: int = 1
    lookahead_days: int = 1
    persist: str = "MEMORY_AND_DISK"
    persist_compressed: bool = False
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, conf) -> "SessionsConfig":
        if isinstance(conf, SessionsConfig):
            return conf
        conf = conf or {}
        section = conf.get("sessions", conf) if isinstance(conf, dict) else {}
        return cls.from_dict(section or {})

    @classmethod
    def from_dict(cls, s: dict) -> "SessionsConfig":
        counters = []
        for name, spec in (s.get("counters") or {}).items():
            if isinstance(spec, (list, tuple, str)):
                spec = {"events": spec}
            events = spec.get("events") or []
            events = [events] if isinstance(events, str) else list(events)
            if not events:
                raise ValueError(f"sessions.counters.{name}: lists no event types")
            counters.append(Counter(_column_name(name), tuple(events), spec.get("duration_field")))
        line_counters = []
        for name, spec in (s.get("line_counters") or {}).items():
            if not (spec or {}).get("tag") and not (spec or {}).get("message_regex"):
                raise ValueError(f"sessions.line_counters.{name}: needs a tag and/or a message_regex")
            line_counters.append(LineCounter(_column_name(name), spec.get("tag"), spec.get("message_regex")))
        seq = s.get("sequences") or {}
        sid, fixed, sliding = seq.get("id") or {}, seq.get("fixed") or {}, seq.get("sliding") or {}
        sliding_size = _day_bucket(sliding.get("size", "10 minutes"), "sessions.sequences.sliding.size")
        sliding_slide = parse_seconds(sliding.get("slide", "5 minutes"), "sessions.sequences.sliding.slide")
        if sliding_slide > sliding_size or sliding_size % sliding_slide:
            raise ValueError("sessions.sequences.sliding.slide must divide sliding.size")
        lookback = int(s.get("lookback_days", 1))
        idle = parse_seconds(s.get("idle_timeout_s", 1800), "sessions.idle_timeout_s")
        if idle > DAY_S:
            raise ValueError("sessions.idle_timeout_s must be at most one day (incremental runs read one day back)")
        dates = s.get("dates")
        if isinstance(dates, str):
            dates = [d for d in dates.split(",") if d.strip()]
        content_fields = s.get("content_fields") or {"content_id": "content_id", "channel": "channel", "uri": "uri"}
        return cls(
            idle_timeout_s=idle,
            start_events=tuple(s.get("start_events") or ()),
            reset_events=tuple(s.get("reset_events") or ()),
            end_events=tuple(s.get("end_events") or ()),
            content_event=s.get("content_event", "CHANGE_CONTENT"),
            content_fields=tuple((_column_name(k), str(v)) for k, v in content_fields.items()),
            counters=tuple(counters),
            line_counters=tuple(line_counters),
            error_levels=tuple(str(x).upper() for x in (s.get("error_levels") or ("ERROR", "FATAL"))),
            levels=tuple(dict.fromkeys(str(x).upper() for x in (
                s.get("levels") or ("VERBOSE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")))),
            id_enabled=bool(sid.get("enabled", True)) and bool(sid.get("regex")),
            id_regex=sid.get("regex"),
            id_per_device=bool(sid.get("per_device", False)),
            fixed_enabled=bool(fixed.get("enabled", True)),
            fixed_size_s=_day_bucket(fixed.get("size", "1 hour"), "sessions.sequences.fixed.size"),
            sliding_enabled=bool(sliding.get("enabled", True)),
            sliding_size_s=sliding_size,
            sliding_slide_s=sliding_slide,
            max_length=int(seq.get("max_length") or 0),
            sequence_lines=_condition(s.get("sequence_lines", "var_event_type IS NOT NULL"),
                                      "sessions.sequence_lines"),
            bucket_s=_day_bucket((s.get("timeseries") or {}).get("bucket", "5 minutes"),
                                 "sessions.timeseries.bucket", minimum=60),
            dates=tuple(str(d).strip() for d in dates) if dates else None,
            lookback_days=max(lookback, 0),
            lookahead_days=max(int(s.get("lookahead_days", 1)), 0),
            persist=str(s.get("persist") or "NONE"),
            persist_compressed=bool(s.get("persist_compressed", False)),
            raw=dict(s),
        )


def _condition(value, what: str) -> str | None:
    """A SQL condition on `events` columns (Spark checks it when the stage plans); `all` means every line."""
    if value is None or str(value).strip().lower() in ("", "all", "true"):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a SQL condition such as 'var_event_type IS NOT NULL', got {value!r}")
    return value


def _column_name(name: str) -> str:
    col = re.sub(r"[^0-9a-zA-Z_]", "_", str(name)).lower()
    if not col or col[0].isdigit():
        raise ValueError(f"sessions: {name!r} cannot be used as a column name")
    return col
