"""The template store, its lineage and the Drain state: schemas and the per-batch updates.

* ``templates``: one row per template id ever given out. A batch adds its new ids and folds its
  counts into known ones (first/last seen, line count); ``example`` is the first original message
  seen with the template and never changes; ``version`` is 1 for a template Drain created and
  ``old.version + 1`` for one that replaced an older template (see ``template_lineage``).
* ``template_lineage``: ``old_id -> new_id`` whenever a later batch generalises a template. Events
  already written keep the old id; this table links them to the current one.
* ``drain_state``: per partition key (token count, leading token) drain3's own serialisation
  (``state``) plus the enumeration statistics and emitted templates (``extra``, JSON), and the
  fingerprint of the settings it was mined with.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.templates.ids import EMPTY_TEMPLATE, UNPARSED_TEMPLATE

TEMPLATES_SCHEMA = ("template_id string, template string, first_seen timestamp, last_seen timestamp, "
                    "count bigint, example string, version int")
LINEAGE_SCHEMA = "old_id string, new_id string, old_template string, new_template string, changed_at timestamp"
STATE_SCHEMA = ("token_count int, lead string, state string, extra string, n_clusters int, n_messages bigint, "
                "fingerprint string, updated_at timestamp")
STATE_KEYS = ["token_count", "lead"]


def read_state(catalog) -> DataFrame:
    return catalog.read_or_empty("drain_state", STATE_SCHEMA)


def check_fingerprint(state: DataFrame, fingerprint: str) -> None:
    other = [r.fingerprint for r in state.select("fingerprint").distinct().collect() if r.fingerprint != fingerprint]
    if other:
        raise ValueError(
            "templates: the stored Drain state was mined with other settings (templates.drain, max_enum_values, "
            "max_tokens/max_chars or partitioning changed). Re-mine everything with `logalyzer templates --full` "
            "or restore the previous settings.")


def merge_templates(catalog, batch: DataFrame, lineage: DataFrame, now) -> dict:
    """Fold this batch's per-template stats into ``templates``; returns new/known counts.

    ``batch``: template_id, template, first_seen, last_seen, count, example.
    ``lineage``: old_id, new_id, old_template, new_template (this batch's).
    """
    existing = catalog.read_or_empty("templates", TEMPLATES_SCHEMA).select(
        "template_id", F.col("first_seen").alias("_f"), F.col("last_seen").alias("_l"),
        F.col("count").alias("_c"), F.col("example").alias("_x"), F.col("version").alias("_v"))
    # lineage targets the batch did not itself use still get a row (count 0), so every link resolves
    targets = lineage.select(F.col("new_id").alias("template_id"), F.col("new_template").alias("template"),
                             F.col("old_id")).join(
        existing.select(F.col("template_id").alias("old_id"), F.col("_v").alias("_ov"), F.col("_x").alias("_ox")),
        "old_id", "left")
    succ = targets.groupBy("template_id").agg(F.first("template").alias("_lt"), (F.max("_ov") + 1).alias("_sv"),
                                              F.min("_ox").alias("_sx"))
    rows = (batch.join(succ, "template_id", "full")
            .select("template_id", F.coalesce("template", "_lt").alias("template"), "first_seen", "last_seen",
                    F.coalesce("count", F.lit(0)).cast("long").alias("count"),
                    F.coalesce("example", "_sx").alias("example"), "_sv")
            .join(existing, "template_id", "left"))
    merged = rows.select(
        "template_id", "template",
        F.least("first_seen", "_f").alias("first_seen"), F.greatest("last_seen", "_l").alias("last_seen"),
        (F.col("count") + F.coalesce("_c", F.lit(0))).alias("count"),
        F.coalesce("_x", "example").alias("example"),
        F.coalesce("_v", "_sv", F.lit(1)).cast("int").alias("version"),
        F.col("_c").isNotNull().alias("_known"), F.col("count").alias("_batch"),
    ).persist()
    try:
        in_batch = F.col("_batch") > 0
        stats = merged.agg(
            F.sum((in_batch & F.col("_known")).cast("long")).alias("known"),
            F.sum((in_batch & ~F.col("_known")).cast("long")).alias("new"),
            F.sum(in_batch.cast("long")).alias("batch"),
            F.sum(F.when(F.col("template") == UNPARSED_TEMPLATE, F.col("_batch"))).alias("unparsed"),
            F.sum(F.when(F.col("template") == EMPTY_TEMPLATE, F.col("_batch"))).alias("empty")).first()
        catalog.merge("templates", merged.drop("_known", "_batch"), ["template_id"])
    finally:
        merged.unpersist()
    return {"templates_in_batch": int(stats["batch"] or 0), "templates_new": int(stats["new"] or 0),
            "templates_known": int(stats["known"] or 0), "lines_unparsed": int(stats["unparsed"] or 0),
            "lines_empty": int(stats["empty"] or 0)}


def lineage_rows(mined: DataFrame, now) -> DataFrame:
    return (mined.where(F.col("kind") == "lineage")
            .select("old_id", F.col("template_id").alias("new_id"), "old_template",
                    F.col("template").alias("new_template"), F.lit(now).cast("timestamp").alias("changed_at"))
            .dropDuplicates(["old_id", "new_id"]))


def state_rows(mined: DataFrame, fingerprint: str, now) -> DataFrame:
    return (mined.where(F.col("kind") == "state")
            .select("token_count", "lead", "state", "extra", "n_clusters", "n_messages",
                    F.lit(fingerprint).alias("fingerprint"), F.lit(now).cast("timestamp").alias("updated_at")))
