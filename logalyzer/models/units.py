"""What the models look at: one row per unit (a playback session or a generic sequence), read from the lake.

Every unit kind comes out in one shape, so the featurizer, both detectors and the scoring job never
branch on where a unit came from:

``unit_kind, unit_id, key, device_id, start_ts, end_ts, date, template_seq, template_counts,
metric_names, metric_values``

* ``template_seq`` is the ordered template-id sequence, ``template_counts`` its exact count vector
  (a map: sequences may be capped by ``sessions.sequences.max_length``, counts never are);
* the metrics are every numeric column of the unit table (VAR counters and durations, line and
  error counts, duration), as two parallel arrays so any unit table fits one model signature; a
  model keeps the names it was trained on and reads only those;
* each duration column (``<name>_ms``) also gives the share of the unit's time it covers,
  ``<name>_time_pct`` (0-100): 13 s of black screen is an incident in a 20-second session and
  nothing unusual in a two-hour film, and only the share tells them apart (the player-quality
  habit of a rebuffering ratio rather than a rebuffering time).

Template ids are resolved through ``template_lineage`` by the featurizer (``template_aliases``
gives it the mapping): a template that Drain generalised after the model was trained maps to the
id the model knows and does not look new.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import NumericType

from logalyzer.models.config import ModelsConfig

UNIT_KEYS = ("unit_kind", "unit_id", "key", "device_id", "start_ts", "end_ts", "date")
TABLE_OF = {"session": "sessions", "id": "event_sequences", "fixed": "event_sequences", "sliding": "event_sequences"}
# Columns that identify or place a unit: never features, even when numeric.
_NOT_METRICS = {"line_no", "bucket_s"}


def unit_table(unit_kind: str) -> str:
    return TABLE_OF[unit_kind]


def _duration_s() -> F.Column:
    return (F.unix_micros("last_ts") - F.unix_micros("first_ts")) / F.lit(1e6)


def _time_shares(table: DataFrame) -> DataFrame:
    """``table`` plus ``<name>_time_pct`` for each numeric ``<name>_ms`` column, when the unit has a length.

    The share of the unit's duration (at least one second, so an instant does not divide by zero),
    capped at 100: an event that began before the unit can report more time than the unit has.
    """
    numeric = {f.name for f in table.schema.fields if isinstance(f.dataType, NumericType)}
    if "duration_s" in numeric:
        length_ms = F.col("duration_s") * F.lit(1000.0)
    elif {"first_ts", "last_ts"} <= set(table.columns):
        length_ms = _duration_s() * F.lit(1000.0)
    else:
        return table
    shares = {f"{c[:-3]}_time_pct": F.least(F.lit(100.0), F.lit(100.0) * F.col(c).cast("double")
                                            / F.greatest(length_ms, F.lit(1000.0)))
              for c in sorted(numeric) if c.endswith("_ms") and f"{c[:-3]}_time_pct" not in table.columns}
    return table.withColumns(shares) if shares else table


def metric_columns(table: DataFrame, cfg: ModelsConfig) -> list[str]:
    """Numeric columns of a unit table (and their time shares) used as features (``models.features``)."""
    table = _time_shares(table)
    numeric = [f.name for f in table.schema.fields
               if isinstance(f.dataType, NumericType) and f.name not in _NOT_METRICS]
    if "duration_s" not in numeric and {"first_ts", "last_ts"} <= set(table.columns):
        numeric.append("duration_s")
    if cfg.metrics is not None:
        missing = [m for m in cfg.metrics if m not in numeric]
        if missing:
            raise ValueError(f"models.features.metrics: {', '.join(missing)} not numeric columns of the unit table "
                             f"(numeric columns: {', '.join(numeric)})")
        return list(cfg.metrics)
    return [c for c in numeric if c not in set(cfg.metrics_exclude)]


def to_units(table: DataFrame, unit_kind: str, cfg: ModelsConfig) -> DataFrame:
    """A unit table (``sessions`` or ``event_sequences``) → units in the common shape."""
    metrics = metric_columns(table, cfg)
    table = _time_shares(table)
    if unit_kind == "session":
        keys = [F.lit("session").alias("unit_kind"), F.col("session_id").alias("unit_id"),
                F.col("session_id").alias("key"), "device_id", "start_ts", "end_ts", "date"]
    else:
        table = table.where(F.col("kind") == unit_kind)
        keys = [F.col("kind").alias("unit_kind"), F.col("sequence_id").alias("unit_id"), "key", "device_id",
                F.coalesce("window_start", "first_ts").alias("start_ts"),
                F.coalesce("window_end", "last_ts").alias("end_ts"), "date"]
    value = {m: (F.col(m) if m in table.columns else _duration_s()) for m in metrics}
    names = F.array(*[F.lit(m) for m in metrics]) if metrics else F.array().cast("array<string>")
    values = (F.array(*[F.coalesce(value[m].cast("double"), F.lit(0.0)) for m in metrics]) if metrics
              else F.array().cast("array<double>"))
    return table.select(*keys,
                        F.coalesce(F.col("template_seq"), F.array().cast("array<string>")).alias("template_seq"),
                        F.coalesce(F.col("template_counts"), F.create_map().cast("map<string,int>"))
                        .cast("map<string,bigint>").alias("template_counts"),
                        names.alias("metric_names"), values.alias("metric_values"))


def read_units(catalog, unit_kind: str, cfg: ModelsConfig, dates=None) -> DataFrame:
    """Units of one kind from the lake (only ``dates`` when given)."""
    table = catalog.read(unit_table(unit_kind))
    units = to_units(table, unit_kind, cfg)
    if dates:
        units = units.where(F.col("date").isin([str(d) for d in dates]))
    return units


def is_validation(share: float, seed: int) -> F.Column:
    """A stable, seeded split by unit id: the same unit is always on the same side."""
    return F.pmod(F.xxhash64(F.lit(int(seed)), F.col("unit_id")), F.lit(10_000)) < F.lit(int(round(share * 10_000)))


def template_aliases(catalog) -> dict[str, str]:
    """Template id → its current id, through every generalisation in ``template_lineage``.

    The lineage holds one row per template Drain replaced (a few per templates run, never per line),
    so it is collected; chains (A → B → C) are followed to their end.
    """
    if not catalog.exists("template_lineage"):
        return {}
    rows = catalog.read("template_lineage").select("old_id", "new_id", "changed_at").collect()
    step: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: (r.changed_at is None, r.changed_at)):
        if r.old_id and r.new_id and r.old_id != r.new_id:
            step[r.old_id] = r.new_id
    out = {}
    for old in step:
        cur, seen = old, {old}
        while cur in step and step[cur] not in seen:
            cur = step[cur]
            seen.add(cur)
        out[old] = cur
    return out
