"""The same validation on a small local Dask cluster (see docs/distributed.md).

Skipped when dask[distributed] is not installed (it is an optional extra).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from x12dental.api import iter_paths, validate
from x12dental.parallel import Plan, check_file
from x12dental.report import Report
from x12dental.synthetic import GenOptions, generate

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask")
    for i in range(6):
        text = generate(40 + i, GenOptions(claims=25)).text
        if i % 3 == 1:
            text = text.replace("*11:B:1*", "*11:X:1*", 1)
        (folder / f"f{i}.837").write_text(text)
    (folder / "junk.837").write_bytes(b"\x00\x01 not x12")
    return folder


def test_local_cluster_gives_the_single_process_report(batch: Path, tmp_path: Path) -> None:
    paths = [str(p) for p in iter_paths(batch)]
    db = tmp_path / "history.db"
    plan = Plan(history=str(db))
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        with distributed.Client(cluster) as client:
            futures = client.map(check_file, [Path(p) for p in paths], plan=plan)
            results = client.gather(futures)  # in the order of `paths`
            workers = len(client.scheduler_info()["workers"])
    finally:
        cluster.close()
    assert workers == 2
    report = Report(tuple(results), plan.settings)
    expected = validate(batch)
    assert report.to_json() == expected.to_json()
    assert report.exit_status() == expected.exit_status() == 2
    from x12dental.history import open_history

    store = open_history(db)
    try:
        assert store.stats().files == 6  # every readable file recorded, by the workers
    finally:
        store.close()


def test_dask_bag_on_processes(batch: Path) -> None:
    import dask.bag as db

    paths = [p for p in iter_paths(batch)]
    bag = db.from_sequence(paths, npartitions=2).map(check_file, Plan())
    results = bag.compute(scheduler="processes", num_workers=2)
    assert Report(tuple(results)).to_json() == validate(batch).to_json()
