"""Dashboards as code: the readable YAML under source/ -> a Superset import bundle (a zip).

The source says what a person reads on a dashboard: datasets (virtual, Jinja-templated SQL on the
published PostgreSQL tables, with their columns and metrics) and dashboards (native filters, then
rows of charts of a few kinds). This module expands it into the verbose files Superset's importer
wants (databases/, datasets/, charts/, dashboards/, metadata.yaml), with UUIDs derived from names,
so importing the same source twice updates the same objects instead of adding copies.

A chart's `params:` mapping is merged last into Superset's form data: anything a kind below does
not cover can be set there (see docs/dashboards.md).
"""
from __future__ import annotations

import copy
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from logalyzer.errors import LogalyzerError

SOURCE_DIR = Path(__file__).resolve().parent / "source"
BUNDLE_ROOT = "logalyzer_dashboards"
VERSION = "1.0.0"
_NAMESPACE = uuid.UUID("6f1e8f0a-3c55-4c0e-9d1c-2a6b0a7f4e11")   # fixed: UUIDs stay stable across builds

# column type in the source -> the type Superset records (and whether it is a time column)
_TYPES = {"text": ("TEXT", False), "int": ("BIGINT", False), "float": ("DOUBLE PRECISION", False),
          "bool": ("BOOLEAN", False), "timestamp": ("TIMESTAMP WITH TIME ZONE", True), "date": ("DATE", True)}
_KINDS = ("number", "line", "bar", "mixed", "top", "table", "timeline", "pie")


class SourceError(LogalyzerError, ValueError):
    """The YAML source is inconsistent (unknown dataset, column, metric or kind): names the file (exit 1)."""


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


@dataclass
class Dataset:
    name: str
    sql: str
    columns: dict            # name -> {type, label, description}
    metrics: dict = field(default_factory=dict)
    time_column: str | None = None
    description: str = ""
    file: str = ""

    @property
    def uuid(self) -> str:
        return stable_uuid("dataset", self.name)


@dataclass
class Dashboard:
    slug: str
    title: str
    rows: list
    filters: list = field(default_factory=list)
    description: str = ""
    file: str = ""

    @property
    def uuid(self) -> str:
        return stable_uuid("dashboard", self.slug)

    def charts(self) -> list[dict]:
        return [c for row in self.rows for c in row]


@dataclass
class Source:
    database: dict
    datasets: dict
    dashboards: list


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{path}: expected a mapping at the top")
    return data


def load_source(source_dir: str | Path = SOURCE_DIR) -> Source:
    """Read and check the YAML source: every chart's dataset, columns and metrics must exist."""
    root = Path(source_dir)
    database = _read_yaml(root / "database.yml")
    datasets: dict[str, Dataset] = {}
    for path in sorted((root / "datasets").glob("*.yml")):
        d = _read_yaml(path)
        missing = {"name", "sql", "columns"} - set(d)
        if missing:
            raise SourceError(f"{path}: missing {', '.join(sorted(missing))}")
        d["columns"] = {c: (t if isinstance(t, dict) else {"type": t}) for c, t in d["columns"].items()}
        bad = {c: t["type"] for c, t in d["columns"].items() if t.get("type") not in _TYPES}
        if bad:
            raise SourceError(f"{path}: unknown column type(s) {bad} (known: {', '.join(_TYPES)})")
        if d["name"] in datasets:
            raise SourceError(f"{path}: dataset {d['name']!r} is also defined in {datasets[d['name']].file}")
        if d.get("time_column") and d["time_column"] not in d["columns"]:
            raise SourceError(f"{path}: time_column {d['time_column']!r} is not one of its columns")
        datasets[d["name"]] = Dataset(name=d["name"], sql=d["sql"], columns=d["columns"],
                                      metrics=d.get("metrics") or {}, time_column=d.get("time_column"),
                                      description=d.get("description", ""), file=str(path))
    dashboards = []
    for path in sorted((root / "dashboards").glob("*.yml")):
        d = _read_yaml(path)
        board = Dashboard(slug=d["slug"], title=d["title"], rows=d.get("rows") or [],
                          filters=d.get("filters") or [], description=d.get("description", ""), file=str(path))
        _check_dashboard(board, datasets)
        dashboards.append(board)
    return Source(database=database, datasets=datasets, dashboards=dashboards)


def _check_dashboard(board: Dashboard, datasets: dict) -> None:
    where = board.file
    keys = set()
    for chart in board.charts():
        key = chart.get("key")
        if not key or key in keys:
            raise SourceError(f"{where}: every chart needs a unique `key` (got {key!r})")
        keys.add(key)
        if chart.get("kind") not in _KINDS:
            raise SourceError(f"{where}: chart {key}: kind {chart.get('kind')!r} is not one of {', '.join(_KINDS)}")
        ds = datasets.get(chart.get("dataset"))
        if ds is None:
            raise SourceError(f"{where}: chart {key}: unknown dataset {chart.get('dataset')!r} "
                              f"(known: {', '.join(sorted(datasets))})")
        for name in _listed(chart, "metric", "metrics", "metrics_b"):
            if name not in ds.metrics:
                raise SourceError(f"{where}: chart {key}: dataset {ds.name} has no metric {name!r}")
        cols = _listed(chart, "x", "by", "columns", "start", "end", "y", "series", "tooltip")
        cols += [o.lstrip("-") for o in _listed(chart, "order")]
        for name in cols:
            if name not in ds.columns:
                raise SourceError(f"{where}: chart {key}: dataset {ds.name} has no column {name!r}")
    for flt in board.filters:
        if flt.get("type") not in ("time", "select"):
            raise SourceError(f"{where}: filter {flt.get('name')!r}: type must be time or select")
        if flt["type"] == "select":
            ds = datasets.get(flt.get("dataset"))
            if ds is None or flt.get("column") not in ds.columns:
                raise SourceError(f"{where}: filter {flt['name']!r}: needs a dataset and one of its columns")
            if flt.get("sort_metric") and flt["sort_metric"] not in ds.metrics:
                raise SourceError(f"{where}: filter {flt['name']!r}: dataset {ds.name} has no metric "
                                  f"{flt['sort_metric']!r}")
        unknown = set(flt.get("applies_to") or []) - keys
        if unknown:
            raise SourceError(f"{where}: filter {flt['name']!r}: applies_to names no chart {sorted(unknown)}")


def _listed(chart: dict, *names: str) -> list[str]:
    out = []
    for n in names:
        v = chart.get(n)
        if v is None:
            continue
        out.extend(v if isinstance(v, list) else [v])
    return out


# -- the files Superset imports ----------------------------------------------------------------------
@dataclass
class DatabaseSpec:
    """Where Superset finds the published tables: SQLAlchemy URI without the password, and the schema."""
    uri: str                 # postgresql+psycopg2://USER@HOST:PORT/DB (a password in it is masked)
    schema: str = "logalyzer"

    def masked_uri(self) -> str:
        """The URI with the password as Superset's mask (the real one travels in `passwords`)."""
        m = re.match(r"^(?P<scheme>[^:]+://)(?P<user>[^:@/]+)(?::[^@]*)?@(?P<rest>.*)$", self.uri)
        if not m:
            raise SourceError(f"database URI {self.uri!r} names no user (postgresql+psycopg2://USER@HOST:PORT/DB)")
        return f"{m['scheme']}{m['user']}:XXXXXXXXXX@{m['rest']}"


DATABASE_FILE = "databases/logalyzer.yaml"


def _database(source: Source, db: DatabaseSpec) -> dict:
    d = source.database
    # search_path: the datasets' SQL names tables unqualified, so any publish.schema works
    extra = {"engine_params": {"connect_args": {"options": f"-csearch_path={db.schema},public"}},
             "metadata_params": {}, "schemas_allowed_for_csv_upload": []}
    return {"database_name": d.get("name", "LOGalyzer"), "sqlalchemy_uri": db.masked_uri(),
            "cache_timeout": None, "expose_in_sqllab": bool(d.get("expose_in_sqllab", True)),
            "allow_run_async": False, "allow_ctas": False, "allow_cvas": False, "allow_dml": False,
            "allow_csv_upload": False, "extra": extra, "uuid": stable_uuid("database", "logalyzer"),
            "version": VERSION}


def _dataset(ds: Dataset, db: DatabaseSpec, database_uuid: str) -> dict:
    columns = [{"column_name": name, "verbose_name": c.get("label"), "is_dttm": _TYPES[c["type"]][1],
                "is_active": True, "type": _TYPES[c["type"]][0], "groupby": True, "filterable": True,
                "expression": None, "description": c.get("description"), "python_date_format": None, "extra": {}}
               for name, c in ds.columns.items()]
    metrics = [{"metric_name": name, "verbose_name": m.get("label"), "metric_type": None,
                "expression": m["sql"], "description": m.get("description"), "d3format": m.get("format"),
                "extra": {}, "warning_text": None}
               for name, m in ds.metrics.items()]
    return {"table_name": ds.name, "main_dttm_col": ds.time_column, "description": ds.description or None,
            "default_endpoint": None, "offset": 0, "cache_timeout": None, "schema": db.schema,
            "sql": ds.sql.rstrip() + "\n", "params": None, "template_params": None,
            "filter_select_enabled": True, "fetch_values_predicate": None, "extra": None,
            "normalize_columns": False, "always_filter_main_dttm": False, "uuid": ds.uuid,
            "metrics": metrics, "columns": columns, "version": VERSION, "database_uuid": database_uuid}


def _time_filter(column: str | None) -> list[dict]:
    """The chart's own time filter, "No filter" by default: the dashboard's time range fills it."""
    if not column:
        return []
    return [{"clause": "WHERE", "subject": column, "operator": "TEMPORAL_RANGE", "comparator": "No filter",
             "expressionType": "SIMPLE"}]


def _order(items: list[str]) -> list[str]:
    return [json.dumps([o.lstrip("-"), not o.startswith("-")]) for o in items]


def chart_params(chart: dict, ds: Dataset) -> tuple[str, dict]:
    """viz_type and form data for one chart of the source."""
    kind = chart["kind"]
    common = {"adhoc_filters": _time_filter(ds.time_column), "row_limit": chart.get("limit", 10000),
              "color_scheme": "supersetColors", "extra_form_data": {}, "dashboards": []}
    if ds.time_column:
        common["granularity_sqla"] = ds.time_column
    if kind == "number":
        viz, p = "big_number_total", {"metric": chart["metric"], "header_font_size": 0.4,
                                      "subheader_font_size": 0.15, "y_axis_format": "SMART_NUMBER"}
        fmt = ds.metrics[chart["metric"]].get("format")
        if fmt:
            p["y_axis_format"] = fmt
    elif kind in ("line", "bar"):
        viz = "echarts_timeseries_line" if kind == "line" else "echarts_timeseries_bar"
        p = {"x_axis": chart["x"], "time_grain_sqla": chart.get("grain"), "metrics": chart["metrics"],
             "groupby": _listed(chart, "by"), "order_desc": True, "show_legend": True,
             "legendType": "scroll", "legendOrientation": "top", "rich_tooltip": True,
             "x_axis_time_format": "smart_date", "truncateXAxis": True, "y_axis_format": "SMART_NUMBER",
             "orientation": "vertical", "only_total": True, "markerEnabled": kind == "line",
             "markerSize": 4, "seriesType": kind}
        if chart.get("stack"):
            p["stack"] = "Stack"
    elif kind == "mixed":
        viz = "mixed_timeseries"
        fmt_b = next((ds.metrics[m].get("format") for m in chart["metrics_b"] if ds.metrics[m].get("format")), None)
        p = {"x_axis": chart["x"], "time_grain_sqla": chart.get("grain"), "metrics": chart["metrics"],
             "metrics_b": chart["metrics_b"], "groupby": [], "groupby_b": [],
             "adhoc_filters_b": _time_filter(ds.time_column), "row_limit_b": 10000,
             "seriesType": "bar", "seriesTypeB": "line", "yAxisIndex": 0, "yAxisIndexB": 1,
             "show_legend": True, "legendType": "scroll", "legendOrientation": "top", "rich_tooltip": True,
             "x_axis_time_format": "smart_date", "y_axis_format": "SMART_NUMBER",
             "y_axis_format_secondary": fmt_b or "SMART_NUMBER", "markerEnabledB": True, "markerSizeB": 5,
             "order_desc": True, "order_desc_b": True}
    elif kind == "top":
        # the N largest groups as horizontal bars, largest on top
        viz = "echarts_timeseries_bar"
        p = {"x_axis": chart["by"], "metrics": [chart["metric"]], "groupby": [],
             # horizontal bars are drawn bottom-up: ascending puts the largest on top
             "x_axis_sort": chart["metric"], "x_axis_sort_asc": True, "orientation": "horizontal",
             "order_desc": True, "timeseries_limit_metric": chart["metric"], "show_legend": False,
             "rich_tooltip": True, "y_axis_format": "SMART_NUMBER", "show_value": True,
             "row_limit": chart.get("limit", 10)}
    elif kind == "pie":
        viz = "pie"
        p = {"groupby": [chart["by"]], "metric": chart["metric"], "show_legend": True, "show_labels": True,
             "label_type": "key_value", "number_format": "SMART_NUMBER", "sort_by_metric": True}
    elif kind == "table":
        viz = "table"
        p = {"query_mode": "raw", "all_columns": chart["columns"], "order_by_cols": _order(_listed(chart, "order")),
             "groupby": [], "metrics": [], "percent_metrics": [], "server_pagination": False,
             "table_timestamp_format": "%Y-%m-%d %H:%M:%S", "include_search": True,
             "show_cell_bars": False, "allow_rearrange_columns": False, "row_limit": chart.get("limit", 1000)}
    elif kind == "timeline":
        viz = "gantt_chart"
        p = {"start_time": chart["start"], "end_time": chart["end"], "y_axis": chart["y"],
             "series": chart.get("series"), "tooltip_columns": _listed(chart, "tooltip"),
             "tooltip_metrics": [], "order_by_cols": [], "show_legend": True, "legendType": "scroll",
             "legendOrientation": "top", "zoomable": True, "x_axis_time_format": "smart_date",
             "tooltip_time_format": "smart_date"}
    else:  # checked in load_source
        raise SourceError(f"unknown chart kind {kind!r}")
    params = dict(common, viz_type=viz, **p)
    params.update(copy.deepcopy(chart.get("params") or {}))
    return viz, params


def _chart(board: Dashboard, chart: dict, ds: Dataset) -> dict:
    viz, params = chart_params(chart, ds)
    return {"slice_name": chart["title"], "description": chart.get("description"), "certified_by": None,
            "certification_details": None, "viz_type": viz, "params": params, "query_context": None,
            "cache_timeout": None, "uuid": stable_uuid("chart", board.slug, chart["key"]), "version": VERSION,
            "dataset_uuid": ds.uuid}


def _position(board: Dashboard, chart_ids: dict[str, int]) -> dict:
    pos: dict = {"DASHBOARD_VERSION_KEY": "v2",
                 "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
                 "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
                 "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": board.title}}}
    for r, row in enumerate(board.rows, 1):
        row_id = f"ROW-{r}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                       "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for chart in row:
            cid = f"CHART-{chart['key']}"
            pos[row_id]["children"].append(cid)
            pos[cid] = {"type": "CHART", "id": cid, "children": [], "parents": ["ROOT_ID", "GRID_ID", row_id],
                        "meta": {"chartId": chart_ids[chart["key"]], "width": int(chart.get("width", 4)),
                                 "height": int(chart.get("height", 50)), "sliceName": chart["title"],
                                 "uuid": stable_uuid("chart", board.slug, chart["key"])}}
    return pos


def _native_filter(board: Dashboard, flt: dict, datasets: dict, chart_ids: dict[str, int]) -> dict:
    fid = "NATIVE_FILTER-" + re.sub(r"[^A-Za-z0-9]+", "_", flt["name"]).strip("_").lower()
    applies = flt.get("applies_to")
    excluded = [] if not applies else [i for k, i in chart_ids.items() if k not in applies]
    out = {"id": fid, "name": flt["name"], "type": "NATIVE_FILTER", "description": flt.get("description", ""),
           "cascadeParentIds": [], "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
           "chartsInScope": [i for i in chart_ids.values() if i not in excluded], "tabsInScope": []}
    if flt["type"] == "time":
        out.update(filterType="filter_time", targets=[{}], controlValues={},
                   defaultDataMask={"filterState": {"value": flt.get("default", "No filter")},
                                    "extraFormData": {"time_range": flt.get("default", "No filter")}, "ownState": {}})
        return out
    ds = datasets[flt["dataset"]]
    default = flt.get("default")
    out.update(filterType="filter_select",
               targets=[{"datasetUuid": ds.uuid, "column": {"name": flt["column"]}}],
               controlValues={"enableEmptyFilter": bool(flt.get("required")), "multiSelect": False,
                              "defaultToFirstItem": bool(flt.get("required")) and default is None,
                              "searchAllOptions": False, "inverseSelection": False,
                              "sortAscending": not flt.get("sort_metric")},
               # no `value` at all when there is no default: a null one would stop defaultToFirstItem
               defaultDataMask=({"filterState": {"value": [default]}, "ownState": {},
                                 "extraFormData": {"filters": [{"col": flt["column"], "op": "IN", "val": [default]}]}}
                                if default else {"filterState": {}, "extraFormData": {}, "ownState": {}}))
    if out["controlValues"]["defaultToFirstItem"]:
        out["requiredFirst"] = {"defaultToFirstItem": True}   # charts wait for that first value
    if flt.get("sort_metric"):
        out["sortMetric"] = flt["sort_metric"]
    return out


def _dashboard(board: Dashboard, datasets: dict) -> dict:
    chart_ids = {c["key"]: i for i, c in enumerate(board.charts(), 1)}   # local ids; the importer maps them
    metadata = {"native_filter_configuration": [_native_filter(board, f, datasets, chart_ids) for f in board.filters],
                "color_scheme": "supersetColors", "refresh_frequency": 0, "expanded_slices": {},
                "label_colors": {}, "shared_label_colors": [], "timed_refresh_immune_slices": [],
                "cross_filters_enabled": False, "default_filters": "{}", "chart_configuration": {},
                "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                                               "chartsInScope": list(chart_ids.values())}}
    return {"dashboard_title": board.title, "description": board.description or None, "css": "",
            "slug": board.slug, "certified_by": None, "certification_details": None, "published": True,
            "uuid": board.uuid, "position": _position(board, chart_ids), "metadata": metadata, "version": VERSION}


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def build_files(source: Source, db: DatabaseSpec) -> dict[str, dict]:
    """Every file of the bundle (path under the bundle root -> its content), metadata.yaml included."""
    database = _database(source, db)
    files: dict[str, dict] = {"metadata.yaml": {"version": VERSION, "timestamp": "2026-01-01T00:00:00+00:00"},
                              DATABASE_FILE: database}
    for ds in source.datasets.values():
        files[f"datasets/logalyzer/{_file_name(ds.name)}.yaml"] = _dataset(ds, db, database["uuid"])
    for board in source.dashboards:
        for chart in board.charts():
            files[f"charts/{_file_name(board.slug)}__{_file_name(chart['key'])}.yaml"] = \
                _chart(board, chart, source.datasets[chart["dataset"]])
        files[f"dashboards/{_file_name(board.slug)}.yaml"] = _dashboard(board, source.datasets)
    return files


def build_zip(source: Source, db: DatabaseSpec) -> bytes:
    """The import bundle as zip bytes: the same source and database give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in sorted(build_files(source, db).items()):
            info = zipfile.ZipInfo(f"{BUNDLE_ROOT}/{path}", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=120))
    return buf.getvalue()


def database_password_key() -> str:
    """The key Superset's import expects for the database password (`passwords` form field)."""
    return DATABASE_FILE
