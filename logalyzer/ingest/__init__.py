"""Ingest: gzip and plain log files → ``log_lines`` (bronze), ``quarantine``, manifest and run log."""
from logalyzer.ingest.pipeline import run_ingest

__all__ = ["run_ingest"]
