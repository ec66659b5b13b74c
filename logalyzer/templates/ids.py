"""Stable template ids: derived from the template text only, so the same template has the same id
across runs, batches and machines (no counters, no cluster numbers)."""
from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

ID_LENGTH = 16                    # hex digits of sha256: 64 bits, no collision in any real template set
EMPTY_TEMPLATE = "<EMPTY>"        # a null, empty or all-whitespace message
UNPARSED_TEMPLATE = "<UNPARSED>"  # a message whose group could not be mined (the error is logged)


def template_id(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:ID_LENGTH]


def template_id_col(template: Column) -> Column:
    """The same id computed by Spark (``sha2`` hashes the UTF-8 bytes, as above)."""
    return F.substring(F.sha2(template, 256), 1, ID_LENGTH)


EMPTY_ID = template_id(EMPTY_TEMPLATE)
UNPARSED_ID = template_id(UNPARSED_TEMPLATE)
