"""What each field event did to its devices: a difference in differences per event and metric.

For an event at time t with window N hours (`field_events.impact.window_hours`):

* **treated** devices are the event's devices; **control** devices are all other devices with data
  in the window that got no field event at all between t - N and t + N;
* per device and period (before = [t - N, t), after = [t, t + N)) a rate: `anomaly_rate` = flagged
  units (anomalies_consolidated) / scored units (anomaly_scores) starting in the period;
  `black_screen_rate`, `video_freeze_rate`, `display_drop_rate` = events per hour of data in
  device_timeseries (buckets assigned by their start). A device counts for a metric only when it
  has a rate in both periods;
* per device the change d = after - before; DiD = mean(d | treated) - mean(d | control), with a
  Welch interval: DiD ± t(q, df) * sqrt(var_T/n_T + var_C/n_C), df by Welch-Satterthwaite (the
  normal quantile when the variance is 0 or df > 200);
* verdict: `insufficient_data` when either group has fewer than `min_devices` devices; `worse` when
  the interval lies above 0 and DiD is at least `min_relative_change` x the treated devices' rate
  before (the control's when that is 0); `better` the mirror image; otherwise `no_change`.

Built-in Spark functions only; the events are joined to the lake tables through the dates their
windows cover (an equi-join), so no range join over the fleet. Nothing but a verdict count per
kind reaches the driver.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.field_events.source import field_events_frames

TIMESERIES_METRICS = {"black_screen_rate": "black_screens", "video_freeze_rate": "video_freezes",
                      "display_drop_rate": "display_drops"}
ANOMALY_METRIC = "anomaly_rate"
ALL_METRICS = (ANOMALY_METRIC, *TIMESERIES_METRICS)
VERDICTS = ("worse", "better", "no_change", "insufficient_data")
MAX_DF = 200          # above this the t quantile is the normal one (within 0.5%)


@dataclass(frozen=True)
class ImpactSettings:
    window_hours: float = 6.0
    confidence: float = 0.95
    min_devices: int = 3
    min_relative_change: float = 0.25
    metrics: tuple = field(default=ALL_METRICS)

    @classmethod
    def of(cls, conf: dict) -> "ImpactSettings":
        imp = ((conf.get("field_events") or {}).get("impact") or {})
        s = cls(window_hours=float(imp.get("window_hours", 6)), confidence=float(imp.get("confidence", 0.95)),
                min_devices=int(imp.get("min_devices", 3)),
                min_relative_change=float(imp.get("min_relative_change", 0.25)),
                metrics=tuple(imp.get("metrics") or ALL_METRICS))
        unknown = [m for m in s.metrics if m not in ALL_METRICS]
        if unknown:
            raise ValueError(f"field_events.impact.metrics: unknown {', '.join(unknown)}; known: {', '.join(ALL_METRICS)}")
        if not 0 < s.window_hours <= 24 * 30:
            raise ValueError("field_events.impact.window_hours must lie in (0, 720]")
        if not 0.5 <= s.confidence < 1:
            raise ValueError("field_events.impact.confidence must lie in [0.5, 1)")
        if s.min_devices < 2:
            raise ValueError("field_events.impact.min_devices must be >= 2 (a variance needs two devices)")
        return s


def _shift(ts: Column, micros: int) -> Column:
    return F.timestamp_micros(F.unix_micros(ts) + F.lit(micros))


def event_windows(events: DataFrame, hours: float) -> DataFrame:
    """event_id, event_time, w_start, w_end and one row per `date` the window [t - N, t + N) touches."""
    micros = int(round(hours * 3600 * 1_000_000))
    w = events.select("event_id", "event_time", _shift(F.col("event_time"), -micros).alias("w_start"),
                      _shift(F.col("event_time"), micros).alias("w_end"))
    last = _shift(F.col("w_end"), -1)
    return w.withColumn("date", F.explode(F.sequence(F.to_date("w_start"), F.to_date(last), F.expr("INTERVAL 1 DAY"))))


def _in_window(windows: DataFrame, rows: DataFrame, ts: str) -> DataFrame:
    """rows joined to the event windows they fall in (through their date), with `period`."""
    j = rows.join(windows, "date").where((F.col(ts) >= F.col("w_start")) & (F.col(ts) < F.col("w_end")))
    return j.withColumn("period", F.when(F.col(ts) < F.col("event_time"), "before").otherwise("after"))


def device_rates(windows: DataFrame, timeseries: DataFrame | None, anomaly_scores: DataFrame | None,
                 anomalies: DataFrame | None, metrics) -> DataFrame:
    """event_id, device_id, metric, period, value: one rate per device, event, metric and period."""
    parts = []
    ts_metrics = [m for m in metrics if m in TIMESERIES_METRICS]
    if timeseries is not None and ts_metrics:
        # `date` is the partition column and to_date(bucket_start) (buckets never cross midnight)
        ts = timeseries.select("device_id", "date", "bucket_start", "bucket_s",
                               *[TIMESERIES_METRICS[m] for m in ts_metrics]).where(F.col("device_id").isNotNull())
        agg = (_in_window(windows, ts, "bucket_start").groupBy("event_id", "device_id", "period")
               .agg((F.sum("bucket_s") / 3600.0).alias("hours"),
                    *[F.sum(TIMESERIES_METRICS[m]).alias(m) for m in ts_metrics]))
        stacked = F.explode(F.array(*[F.struct(F.lit(m).alias("metric"), (F.col(m) / F.col("hours")).alias("value"))
                                      for m in ts_metrics]))
        parts.append(agg.where(F.col("hours") > 0).select("event_id", "device_id", "period", stacked.alias("m"))
                     .select("event_id", "device_id", "m.metric", "period", "m.value"))
    if ANOMALY_METRIC in metrics and anomaly_scores is not None and anomalies is not None:
        units = (anomaly_scores.where(F.col("device_id").isNotNull())
                 .groupBy("unit_kind", "unit_id").agg(F.first("device_id").alias("device_id"),
                                                      F.min("start_ts").alias("start_ts")))
        flagged = anomalies.select("unit_kind", "unit_id").distinct().withColumn("flagged", F.lit(1))
        units = units.join(flagged, ["unit_kind", "unit_id"], "left").withColumn("date", F.to_date("start_ts"))
        agg = (_in_window(windows, units, "start_ts").groupBy("event_id", "device_id", "period")
               .agg(F.count(F.lit(1)).alias("units"), F.sum(F.coalesce("flagged", F.lit(0))).alias("flagged")))
        parts.append(agg.select("event_id", "device_id", F.lit(ANOMALY_METRIC).alias("metric"), "period",
                                (F.col("flagged") / F.col("units")).alias("value")))
    if not parts:
        raise ValueError("no metric can be computed: device_timeseries (run `logalyzer sessions`) or "
                         "anomaly_scores / anomalies_consolidated (run `logalyzer score`) are needed")
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def device_changes(rates: DataFrame, windows: DataFrame, event_devices: DataFrame) -> DataFrame:
    """event_id, metric, device_id, role (treated | control), before, after: devices with both periods,
    minus the devices that got another event inside this event's window."""
    wide = (rates.groupBy("event_id", "device_id", "metric")
            .agg(F.max(F.when(F.col("period") == "before", F.col("value"))).alias("before"),
                 F.max(F.when(F.col("period") == "after", F.col("value"))).alias("after"))
            .where(F.col("before").isNotNull() & F.col("after").isNotNull()))
    treated = event_devices.select("event_id", "device_id").distinct().withColumn("treated", F.lit(True))
    exposures = event_devices.select("device_id", F.col("event_time").alias("x_time"),
                                     F.to_date("event_time").alias("date"))
    exposed = (_in_window(windows.select("event_id", "event_time", "w_start", "w_end", "date"), exposures, "x_time")
               .select("event_id", "device_id").distinct().withColumn("exposed", F.lit(True)))
    j = wide.join(treated, ["event_id", "device_id"], "left").join(exposed, ["event_id", "device_id"], "left")
    role = (F.when(F.col("treated"), "treated").when(F.col("exposed"), None).otherwise("control"))
    return j.select("event_id", "metric", "device_id", role.alias("role"), "before", "after").where(F.col("role").isNotNull())


def _t_quantiles(spark: SparkSession, confidence: float) -> DataFrame:
    """df -> two-sided t quantile for df 1..MAX_DF (a constant 200-row table)."""
    from scipy.stats import t

    q = (1 + confidence) / 2
    return spark.createDataFrame([(df, float(t.ppf(q, df))) for df in range(1, MAX_DF + 1)], "df_int int, t_q double")


def did_table(changes: DataFrame, events: DataFrame, settings: ImpactSettings) -> DataFrame:
    """One row per event and metric: group means, the DiD, its interval and the verdict."""
    from statistics import NormalDist

    spark = changes.sparkSession
    z = NormalDist().inv_cdf((1 + settings.confidence) / 2)
    d = F.col("after") - F.col("before")
    groups = changes.groupBy("event_id", "metric").agg(*[
        agg.alias(f"{name}_{role}") for role in ("treated", "control") for name, agg in (
            ("n", F.count(F.when(F.col("role") == role, 1))),
            ("before", F.avg(F.when(F.col("role") == role, F.col("before")))),
            ("after", F.avg(F.when(F.col("role") == role, F.col("after")))),
            ("var", F.var_samp(F.when(F.col("role") == role, d))))])
    metrics = spark.createDataFrame([(m,) for m in settings.metrics], "metric string")
    base = (events.select("event_id", "app_package", "version", "action", "event_time").crossJoin(F.broadcast(metrics))
            .join(groups, ["event_id", "metric"], "left"))
    n_t, n_c = F.coalesce(F.col("n_treated"), F.lit(0)), F.coalesce(F.col("n_control"), F.lit(0))
    did = (F.col("after_treated") - F.col("before_treated")) - (F.col("after_control") - F.col("before_control"))
    a, b = F.col("var_treated") / n_t, F.col("var_control") / n_c
    se = F.sqrt(a + b)
    welch_df = F.when((a + b) > 0, (a + b) * (a + b) / (a * a / (n_t - 1) + b * b / (n_c - 1)))
    df_int = F.least(F.greatest(F.floor(welch_df).cast("int"), F.lit(1)), F.lit(MAX_DF + 1))
    with_stats = (base.withColumn("did", did).withColumn("se", se).withColumn("df_int", df_int)
                  .join(F.broadcast(_t_quantiles(spark, settings.confidence)), "df_int", "left")
                  .withColumn("q", F.coalesce(F.col("t_q"), F.lit(z))))
    ci_low, ci_high = F.col("did") - F.col("q") * F.col("se"), F.col("did") + F.col("q") * F.col("se")
    baseline = F.when(F.col("before_treated") > 0, F.col("before_treated")).otherwise(F.col("before_control"))
    big = F.abs(F.col("did")) >= F.lit(settings.min_relative_change) * F.coalesce(baseline, F.lit(0.0))
    enough = (n_t >= settings.min_devices) & (n_c >= settings.min_devices) & F.col("se").isNotNull()
    verdict = (F.when(~enough, "insufficient_data")
               .when((F.col("ci_low") > 0) & big, "worse")
               .when((F.col("ci_high") < 0) & big, "better")
               .otherwise("no_change"))
    return (with_stats.withColumn("ci_low", ci_low).withColumn("ci_high", ci_high)
            .select("event_id", "app_package", "version", "action", "event_time",
                    F.lit(float(settings.window_hours)).alias("window_hours"), "metric",
                    F.col("before_treated").alias("treated_before"), F.col("after_treated").alias("treated_after"),
                    F.col("before_control").alias("control_before"), F.col("after_control").alias("control_after"),
                    "did", "ci_low", "ci_high", F.lit(float(settings.confidence)).alias("confidence"),
                    n_t.cast("int").alias("n_treated"), n_c.cast("int").alias("n_control"),
                    verdict.alias("verdict"), F.current_timestamp().alias("computed_at")))


def field_event_impact(events: DataFrame, event_devices: DataFrame, timeseries: DataFrame | None,
                       anomaly_scores: DataFrame | None, anomalies: DataFrame | None,
                       settings: ImpactSettings) -> DataFrame:
    """The field_event_impact rows (DataFrame -> DataFrame; the columns are in docs/field_events.md)."""
    windows = event_windows(events, settings.window_hours)
    rates = device_rates(windows, timeseries, anomaly_scores, anomalies, settings.metrics)
    changes = device_changes(rates, windows, event_devices)
    return did_table(changes, events, settings)


def run_impact(spark: SparkSession, catalog, conf: dict, publish: bool = True, progress: Callable = print,
               target=None) -> dict:
    """`logalyzer impact`: read the events from PostgreSQL, write the lake table, publish it."""
    import time

    from logalyzer.catalog import TableNotFoundError
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import upgrade
    from logalyzer.publish.target import resolve_target

    from logalyzer.runlog import stage_run

    t0 = time.time()
    settings = ImpactSettings.of(conf)
    target = target or resolve_target(conf, progress=progress)
    conn = connect(target)
    try:
        upgrade(conn, target.schema, progress=progress)
    finally:
        conn.close()

    def optional(name):
        return catalog.read(name) if name in catalog.tables and catalog.exists(name) else None

    timeseries, scores, anomalies = optional("device_timeseries"), optional("anomaly_scores"), optional("anomalies_consolidated")
    if timeseries is None and (scores is None or anomalies is None):
        raise TableNotFoundError("no device_timeseries (run `logalyzer sessions` first) and no anomaly tables "
                                 "(run `logalyzer score`): nothing to measure field events with")
    if (scores is None or anomalies is None) and ANOMALY_METRIC in settings.metrics:
        progress("impact: no anomaly tables yet (`logalyzer score`): anomaly_rate is left out")
        settings = replace(settings, metrics=tuple(m for m in settings.metrics if m != ANOMALY_METRIC))
        scores = anomalies = None
    progress(f"impact: field events from {target.describe()} schema {target.schema}; window ±{settings.window_hours:g} h")
    with stage_run(catalog, "impact", target.describe(), progress) as run:   # the lake's lock; one row in run_log
        with field_events_frames(spark, target) as (events, event_devices):
            impact = field_event_impact(events, event_devices, timeseries, scores, anomalies, settings)
            catalog.overwrite("field_event_impact", impact)
        written = catalog.read("field_event_impact")
        verdicts = {r["verdict"]: r["n"] for r in written.groupBy("verdict").agg(F.count(F.lit(1)).alias("n")).collect()}
        counts = {"events": written.select("event_id").distinct().count(),
                  **{f"verdict_{v}": int(verdicts.get(v, 0)) for v in VERDICTS}}
        run.counts = counts
        run.details.update({"window_hours": settings.window_hours, "metrics": list(settings.metrics)})
    progress(f"impact: {counts['events']:,} event(s) measured in {time.time() - t0:.1f} s")
    if publish:
        counts["published"] = publish_impact(spark, catalog, conf, target, progress)
    return counts


def publish_impact(spark: SparkSession, catalog, conf: dict, target, progress: Callable = print) -> str:
    """The lake's field_event_impact -> PostgreSQL, whole, through the publish stage's one-commit swap
    (readers see the old rows until it commits). Not in `logalyzer publish`'s list: `impact` owns it."""
    from logalyzer.publish.connection import connect
    from logalyzer.publish.pipeline import PublishSettings, publish_table
    from logalyzer.publish.tables import PublishedTable
    from logalyzer.publish.writers import make_writer
    from logalyzer.runlog import new_run_id

    table = PublishedTable("field_event_impact", "field_event_impact", False, "run `logalyzer impact` first")
    conn = connect(target)
    try:
        result = publish_table(spark, catalog, table, target, conn, make_writer(PublishSettings.of(conf)),
                               full=True, progress=progress, run_id=new_run_id("impact"))
    finally:
        conn.close()
    return f"{result['rows']:,} rows" if result["status"] == "published" else result["status"]
