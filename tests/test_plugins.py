"""A rule plugin: an installed distribution adds a rule through the `x12dental.rules` group."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import SAMPLES

PLUGIN = '''
"""A tiny x12dental rule plugin (test fixture)."""
from x12dental.engine import Hit, claim_rule


def register(registry):
    @claim_rule(
        "demo.claim-id-prefix",
        snip=7,
        severity="warning",
        summary="this trading partner wants claim ids that start with GPY",
        fix="Prefix the patient control number with GPY.",
        registry=registry,
        origin="x12dental-demo-rules",
    )
    def claim_id_prefix(claim, ctx):
        """The demo payer matches claims by a GPY prefix in CLM01."""
        if not claim.claim_id.startswith("GPY"):
            yield Hit(f"claim id {claim.claim_id} does not start with GPY")
'''


def _record(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """A real wheel file, written by hand: no build backend or network needed."""
    dist = "x12dental_demo_rules-0.1.dist-info"
    files = {
        "x12dental_demo_rules.py": PLUGIN.encode(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: x12dental-demo-rules\nVersion: 0.1\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": b"[x12dental.rules]\ndemo = x12dental_demo_rules:register\n",
    }
    record = "\n".join([*(_record(n, d) for n, d in files.items()), f"{dist}/RECORD,,", ""])
    wheel = folder / "x12dental_demo_rules-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist}/RECORD", record)
    return wheel


def test_installed_plugin_rule_is_listed_and_runs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "x12dental.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    listed = cli("rules")
    assert "demo.claim-id-prefix" in listed.stdout
    explained = cli("explain", "demo.claim-id-prefix")
    assert "x12dental-demo-rules" in explained.stdout and "GPY prefix" in explained.stdout
    bad = tmp_path / "claims.837"
    bad.write_bytes((SAMPLES / "clean-batch.837").read_bytes().replace(b"CLM*GPY", b"CLM*ABC", 1))
    checked = cli("check", "--format", "json", str(bad))
    findings = json.loads(checked.stdout)["files"][0]["findings"]
    hits = [f for f in findings if f["rule"] == "demo.claim-id-prefix"]
    assert len(hits) == 1 and hits[0]["claim_id"].startswith("ABC")
    assert hits[0]["severity"] == "warning" and hits[0]["snip"] == 7
    clean = cli("check", "--format", "json", str(SAMPLES / "clean-batch.837"))
    assert "demo.claim-id-prefix" not in clean.stdout


def test_broken_plugin_does_not_stop_validation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[x12dental.rules]\nbroken = no_such_module:register\n")
    proc = subprocess.run(
        [sys.executable, "-m", "x12dental.cli", "check", str(SAMPLES / "clean-batch.837")],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stderr and "Traceback" not in proc.stderr
