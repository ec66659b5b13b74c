"""The configured counts, shared by sessions and time series: VAR event types, levels, error tags.

One aggregation per group (session or bucket) collects the VAR event types, the (event type,
duration) pairs and the error tags of its lines, and counts the configured levels; afterwards the
lists fold into ``event_counts`` / ``errors_by_tag`` / ``level_counts`` maps (``maps.py``) and each
configured counter is the sum of its event types' entries in ``event_counts``. So the generated
code grows with the number of levels and duration fields, not with the number of counters, and
event types that no counter names are still counted.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN, with_count_map, with_sum_map

EVENT = "var_event_type"


def _dur_col(field: str) -> str:
    return f"_dur_{field}"


def _level_col(level: str) -> str:
    return f"_lvl_{level}"


def duration_fields(cfg: SessionsConfig) -> list[str]:
    return list(dict.fromkeys(c.duration_field for c in cfg.counters if c.duration_field))


def _line_counter_cond(lc) -> Column:
    cond = F.lit(True)
    if lc.tag:
        cond = cond & (F.col("tag") == F.lit(lc.tag))
    if lc.message_regex:
        cond = cond & F.coalesce(F.col("message").rlike(lc.message_regex), F.lit(False))
    return cond


def _level() -> Column:
    return F.coalesce(F.upper(F.col("level")), F.lit(UNKNOWN))


def is_error(cfg: SessionsConfig) -> Column:
    return _level().isin(list(cfg.error_levels))


def aggs(cfg: SessionsConfig) -> list[Column]:
    """Aggregate expressions (any grouping): lists to fold, level counts, line-counter hits."""
    evt = F.col(EVENT)
    out = [F.count(F.lit(1)).cast("int").alias("n_lines"),
           F.count(evt).cast("int").alias("n_var_events"),
           F.count(F.when(is_error(cfg), 1)).cast("int").alias("error_lines"),
           F.collect_list(evt).alias("_events"),
           F.collect_list(F.when(is_error(cfg), F.coalesce(F.col("tag"), F.lit(UNKNOWN)))).alias("_errtags"),
           F.collect_list(F.when(~_level().isin(list(cfg.levels)), _level())).alias("_other_levels")]
    out += [F.count(F.when(_level() == F.lit(lv), 1)).cast("int").alias(_level_col(lv)) for lv in cfg.levels]
    for f in duration_fields(cfg):
        dur = F.get_json_object(F.col("var_data"), f"$.{f}").cast("double")
        out.append(F.collect_list(F.when(evt.isNotNull() & dur.isNotNull(), F.struct(evt.alias("k"), dur.alias("n"))))
                   .alias(_dur_col(f)))
    out += [F.count(F.when(_line_counter_cond(lc), 1)).cast("int").alias(lc.name) for lc in cfg.line_counters]
    return out


def helper_columns(cfg: SessionsConfig) -> list[str]:
    """Columns that ``aggs`` adds and ``fold_maps`` consumes (the duration maps stay for the counters)."""
    return (["_events", "_errtags", "_other_levels"] + [_level_col(lv) for lv in cfg.levels]
            + [_dur_col(f) for f in duration_fields(cfg)])


def fold_maps(df: DataFrame, cfg: SessionsConfig) -> DataFrame:
    """After the aggregation: the maps (``event_counts``, ``errors_by_tag``, ``level_counts`` and one
    duration map per field), each computed once per row; the helper columns are dropped."""
    df = with_count_map(df, "_events", "event_counts")
    df = with_count_map(df, "_errtags", "errors_by_tag")
    df = with_count_map(df, "_other_levels", "_other_level_counts")
    for f in duration_fields(cfg):
        df = with_sum_map(df, _dur_col(f), _dur_col(f) + "_map", value_type="long")
    known = F.map_filter(F.create_map(*[x for lv in cfg.levels for x in (F.lit(lv), F.col(_level_col(lv)))]),
                         lambda k, v: v > 0) if cfg.levels else F.create_map().cast("map<string,int>")
    df = df.withColumn("level_counts", F.map_concat(known, F.col("_other_level_counts")))
    return df.drop("_other_level_counts", *helper_columns(cfg))


def counter_columns(cfg: SessionsConfig) -> list[Column]:
    """The counter columns, from ``event_counts`` and the duration maps."""
    cols = []
    for c in cfg.counters:
        cols.append(_sum_entries(F.col("event_counts"), c.events, "int").alias(c.name))
        if c.duration_field:
            cols.append(_sum_entries(F.col(_dur_col(c.duration_field) + "_map"), c.events, "long")
                        .alias(f"{c.name}_ms"))
    cols += [F.col(lc.name) for lc in cfg.line_counters]
    return cols


def _sum_entries(map_col: Column, keys, typ: str) -> Column:
    total = F.lit(0).cast(typ)
    for k in keys:
        total = total + F.coalesce(map_col[F.lit(k)], F.lit(0)).cast(typ)
    return total
