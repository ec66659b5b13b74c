"""Every notebook in notebooks/ runs top to bottom on a small sample lake, so none of them rots.

The lake is built once with the real stages (ingest ... score, labels) on a tiny generated fleet and
small model settings; each notebook then runs in its own Jupyter kernel (nbclient), pointed at that
lake through LOGALYZER_LAKE / LOGALYZER_SET. A cell that raises fails the test with its traceback.
"""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extras: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extras: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMALL_MODELS = [
    "models.deeplog.epochs=2", "models.deeplog.min_steps=30", "models.deeplog.hidden=16",
    "models.deeplog.embedding=8", "models.deeplog.layers=1", "models.deeplog.history=4",
    "models.autoencoder.epochs=3", "models.autoencoder.min_steps=30", "models.autoencoder.hidden=[8,4]",
    "models.min_train_units=5", "models.score.batch_units=64"]


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory, spark):
    """A tiny fleet through every stage up to score, plus its labels; built in this process's session."""
    from logalyzer.cli import main
    from logalyzer.generate import generate_fleet

    base = tmp_path_factory.mktemp("notebooks")
    fleet = base / "fleet"
    generate_fleet(str(fleet), devices=2, days=2, lines_per_device_day=300, workers=1, anomaly_rate=0.5)
    sets = [f"project.work_dir={base / 'work'}", *SMALL_MODELS]
    common = ["--lake", str(base / "lake"), *[a for s in sets for a in ("--set", s)]]
    for argv in (["ingest", str(fleet)], ["templates"], ["sessions"], ["train"], ["score"],
                 ["labels", "load", str(fleet / "labels.csv")]):
        assert main([*argv, *common]) == 0, argv
    return base, sets


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_sample_lake(path, sample_lake, monkeypatch):
    base, sets = sample_lake
    monkeypatch.setenv("LOGALYZER_LAKE", str(base / "lake"))
    monkeypatch.setenv("LOGALYZER_SET", ";".join([*sets, "spark.master=local[2]"]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    if path.stem == "explore_fleet":
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 6   # every plot drew
        assert "anomaly_scores" in text and "log_lines" in text
    if path.stem == "model_evaluation":
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
        for name in ("deeplog", "autoencoder", "consolidated", "precision", "champion"):
            assert name in text, name


def test_notebooks_are_committed_without_outputs():
    """Outputs belong to a run, not to the repository: diffs stay readable, no data is committed."""
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        assert not [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)], path.name
