"""The errors a person or a scheduler acts on, each with the exit code `logalyzer` returns for it.

    0  success
    1  failure: a stage failed, the lake cannot be written, another run holds the lake, or an
       internal error (a bug: shown with its traceback)
    2  bad usage: a wrong argument, setting, input path or format, fixed by changing the command

Only the classes below (and argparse) mean "bad usage"; any other exception is a failure, never
exit 2, so a scheduler does not retry a bug as if the command line were wrong.
"""
from __future__ import annotations


class LogalyzerError(RuntimeError):
    """A failure with a message that says it all: printed as one line (`--verbose` adds the traceback)."""
    exit_code = 1


class UsageError(LogalyzerError):
    """The command as given cannot work: an argument, a path, a format name."""
    exit_code = 2


class ConfigError(UsageError):
    """A setting is unknown, of the wrong type, or refers to an unset environment variable."""


class LakeError(LogalyzerError):
    """The lake cannot be used: not writable, stored in another format, or locked by another run."""


class LakeFormatError(LakeError):
    """The lake was created with another storage format than the one configured now."""


class LakeLockedError(LakeError):
    """Another writing stage holds the lake."""
