"""Injected app pushes for the synthetic fleet (`logalyzer generate --push TIME,DEVICES,EFFECT`).

A push is a field event: at TIME an app update goes to DEVICES. With the effect `worse` (or
`worse:R`), those devices log R extra BlackScreen and R extra VideoFreeze per viewing hour from then
to the end of the generated data (default R = 3; the normal fleet has about 0.2 of each per hour);
with `none`, nothing changes (their logs are byte-identical to a run without the push). Each push
is also written as the JSON body of POST /events (`<out>/pushes/<event_id>.json`), so a test can
record it through the service and then measure it (`logalyzer impact`). Standard library only.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass

DEFAULT_EXTRA_PER_HOUR = 3.0
PACKAGE, VERSION = "com.operator.player", "5.3.0"


@dataclass(frozen=True)
class Push:
    index: int                    # the n-th --push (0-based), part of the event id
    time: dt.datetime             # UTC
    devices: tuple                # device indices (0-based, as for generate.device_id)
    effect: str                   # worse | none
    extra_per_hour: float         # extra BlackScreen and VideoFreeze per viewing hour (worse)

    def event_id(self, seed: int) -> str:
        return f"gen-push-{seed}-{self.index}"


def _indices(text: str, devices: int) -> tuple:
    out = []
    for part in text.replace(";", " ").replace("+", " ").split():
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"device list {text!r}: expected indices and ranges like 0-4;7")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi or hi >= devices:
            raise ValueError(f"device range {part!r} is outside 0..{devices - 1}")
        out.extend(range(lo, hi + 1))
    if not out:
        raise ValueError(f"device list {text!r} is empty")
    return tuple(sorted(set(out)))


def parse_push(text: str, index: int, devices: int) -> Push:
    """'2026-11-20T12:00:00Z,0-4,worse' (effect: worse, worse:R or none) -> Push."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(f"--push {text!r}: expected TIME,DEVICES,EFFECT, e.g. 2026-11-20T12:00:00Z,0-4,worse")
    when_text, dev_text, effect_text = parts
    try:
        when = dt.datetime.fromisoformat(when_text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--push time {when_text!r} is not an ISO time like 2026-11-20T12:00:00Z") from None
    when = (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    m = re.fullmatch(r"(worse|none)(?::(\d+(?:\.\d+)?))?", effect_text)
    if not m or (m.group(1) == "none" and m.group(2)):
        raise ValueError(f"--push effect {effect_text!r}: expected worse, worse:R (extra per hour) or none")
    extra = float(m.group(2)) if m.group(2) else DEFAULT_EXTRA_PER_HOUR
    return Push(index, when, _indices(dev_text, devices), m.group(1), extra if m.group(1) == "worse" else 0.0)


def day_effects(pushes, dev: int, date: dt.date) -> tuple:
    """(ms into the day from which it applies, extra per hour) of every `worse` push on this device-day."""
    start = dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc)
    out = []
    for p in pushes or ():
        if p.effect != "worse" or dev not in p.devices:
            continue
        offset_ms = int((p.time - start).total_seconds() * 1000)
        if offset_ms < 24 * 3600 * 1000:
            out.append((p.index, max(0, offset_ms), p.extra_per_hour))
    return tuple(out)


def emit(day, phases, effects, seed: int) -> None:
    """Add the pushes' extra glitches to a device-day (`generate._Day`), inside its viewing phases.

    Own random stream per push, so nothing else in the day's draws changes."""
    from logalyzer.generate import HOUR, SEC, _Rng, _seed

    for index, from_ms, per_hour in effects:
        r = _Rng(_seed(seed, day.dev, day.day, "push", index))
        prev = None
        for kind, s, e, _extra in phases:
            if s is None and prev is not None and prev[0] == "boot":
                s = prev[1] + 60 * SEC       # viewing right after a cold boot (its end is not kept)
            prev = (kind, s)
            if kind != "on" or s is None:
                continue
            a, b = max(s, from_ms), e
            t = a
            while per_hour > 0:
                t += int(r.expovariate(2 * per_hour / HOUR))
                if t >= b - 20 * SEC:
                    break
                d = r.randint(500, 6000)
                event = "BlackScreen" if r.random() < 0.5 else "VideoFreeze"
                day.var(t, "VIDEO", "onRenderStateChanged", event, {"duration_ms": d}, "W")
                day.var(t + d, "VIDEO", "onRenderStateChanged", "VideoResume")
                t += d


def event_body(push: Push, seed: int) -> dict:
    from logalyzer.generate import device_id

    return {"event_id": push.event_id(seed), "device_ids": [device_id(i) for i in push.devices],
            "app_package": PACKAGE, "version": VERSION, "action": "update",
            "time": push.time.isoformat().replace("+00:00", "Z"), "operator": "generator"}


def write_events(out_dir: str, pushes, seed: int) -> list[str]:
    """One POST /events body per push under <out_dir>/pushes/; returns the paths."""
    if not pushes:
        return []
    folder = os.path.join(out_dir, "pushes")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for p in pushes:
        body = event_body(p, seed)
        path = os.path.join(folder, body["event_id"] + ".json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=1)
            fh.write("\n")
        paths.append(path)
    return paths
