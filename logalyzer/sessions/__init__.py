"""Sessions stage: VAR playback sessions, generic event sequences and device time series.

Pure DataFrame -> DataFrame transforms (tests call them directly) and ``run_sessions``, the stage
that reads ``events`` through the Catalog and writes ``sessions``, ``event_sequences`` and
``device_timeseries``. Spark built-in functions and window functions only: no Python UDFs.
"""
from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.generic import fixed_window_sessions, id_sessions, sliding_window_sessions
from logalyzer.sessions.playback import playback_sessions, sessionize
from logalyzer.sessions.prepare import prepare_events
from logalyzer.sessions.timeseries import device_timeseries

__all__ = ["SessionsConfig", "playback_sessions", "id_sessions", "fixed_window_sessions",
           "sliding_window_sessions", "device_timeseries", "prepare_events", "sessionize", "run_sessions"]


def run_sessions(*args, **kwargs):
    from logalyzer.sessions.pipeline import run_sessions as _run

    return _run(*args, **kwargs)
