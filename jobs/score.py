"""spark-submit entry for the score stage: `spark-submit jobs/score.py --help`.

Thin on purpose: arguments, session and logic all live in the logalyzer package.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from logalyzer.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
