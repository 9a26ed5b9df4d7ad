"""Every sample file gives what samples/README.md says: rule, segment, position, exit status."""

from __future__ import annotations

import re

import pytest

from x12dental.cli import main

from .conftest import SAMPLES


def _rows() -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line in (SAMPLES / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 7 or not cells[0].startswith("`"):
            continue
        name, _what, report, segment, position, _element, exit_status = cells
        rule = re.search(r"`([a-z0-9]+\.[a-z0-9.-]+)`", report)
        rows.append(
            (name.strip("`"), rule.group(1) if rule else "", segment, position, exit_status)
        )
    return rows


ROWS = _rows()


def test_table_lists_every_sample() -> None:
    listed = {r[0] for r in ROWS}
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.837")}
    assert listed == on_disk


@pytest.mark.parametrize(("name", "rule", "segment", "position", "exit_status"), ROWS)
def test_sample(
    name: str,
    rule: str,
    segment: str,
    position: str,
    exit_status: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    code = main(["check", "--format", "json", str(SAMPLES / name)])
    doc = json.loads(capsys.readouterr().out)
    findings = doc["files"][0]["findings"]
    assert code == int(exit_status), findings
    if not rule:
        assert [f for f in findings if f["severity"] == "error"] == []
        return
    hits = [f for f in findings if f["rule"] == rule]
    assert hits, [f["rule"] for f in findings]
    if position.isdigit():
        assert any(f["segment_position"] == int(position) for f in hits)
    seg = segment.strip("`").replace("\\|", "|")
    if seg not in ("—", ""):
        assert any(f["segment_id"] == seg for f in hits), [f["segment_id"] for f in hits]
