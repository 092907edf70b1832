"""Template mining: masking, the streaming ``assign`` API, bounded clusters, rare and new templates,
and Drain grouping accuracy on Loghub 2k samples read at test time from ../shared/data/loghub.

The GA floor, 0.85 on average over the 8 systems: the published, per-dataset-tuned Drain figures
for these 8 systems average 0.902 (Zhu et al., ICSE-SEIP 2019) and drain3's defaults score about
0.85 here; our single configuration measures 0.919 (see bench/log_analyzer.py). The floor leaves
room for drain3 patch releases while still failing on a masking regression (unmasked, OpenStack
alone drops to ~0.3 and the average under 0.86). Per system we require at least 0.65 (Linux is the
hardest: tuned Drain publishes 0.69).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from aiops.enrichment.logs import analyze, templates

LOGHUB = Path(__file__).resolve().parents[3] / "shared" / "data" / "loghub"


@pytest.fixture(autouse=True)
def _loghub_present() -> None:
    """The Loghub samples live in ../shared beside the checkout (as CI has it): fail, never skip."""
    if not (LOGHUB / "formats.json").exists():
        pytest.fail(f"Loghub samples missing at {LOGHUB}: check out ../shared beside the repository")


def loghub(system: str) -> tuple[list[str], list[str]]:
    """Content field per line (parsed with the system's log format) and ground-truth EventIds."""
    spec = json.loads((LOGHUB / "formats.json").read_text())[system]
    regex = templates.log_format_regex(spec["log_format"])
    contents = []
    for line in (LOGHUB / spec["log_file"]).read_text(encoding="utf-8", errors="replace").splitlines():
        if match := regex.match(line.strip()):
            contents.append(match.group("Content"))
    with (LOGHUB / system / f"{system}_2k.log_structured_corrected.csv").open(newline="") as fh:
        truth = [row["EventId"] for row in csv.DictReader(fh)]
    return contents, truth


SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "Linux", "Apache", "OpenStack"]


def accuracy(system: str, config: templates.MinerConfig = templates.DEFAULT_CONFIG) -> float:
    contents, truth = loghub(system)
    assert len(contents) == len(truth) == 2000
    miner = templates.TemplateMiner(config)
    return templates.grouping_accuracy([tid for tid, _ in miner.assign(contents)], truth)


def test_drain_grouping_accuracy_on_loghub_is_above_the_floor() -> None:
    scores = {system: accuracy(system) for system in SYSTEMS}
    assert sum(scores.values()) / len(scores) >= 0.85, scores
    assert min(scores.values()) >= 0.65, scores


def test_masking_beats_drain3_defaults_on_openstack() -> None:
    assert accuracy("OpenStack") > accuracy("OpenStack", templates.DRAIN3_DEFAULTS) + 0.3


def test_masks_replace_ids_ips_numbers_hex_uuids_durations_and_numbered_paths() -> None:
    line = (
        "req 3f2b1c9e-8a7d-4e5f-9b0c-1d2e3f4a5b6c from 10.1.2.3:5432 took 250ms at 0x7ffd2c1a "
        "GET /v2/54fadb412c4e40cd/servers/17 pod web-5d9c7b8f6-x2x9q count 42"
    )
    assert templates.mask(line) == "req <*> from <*> took <*> at <*> GET <*> pod <*> count <*>"


def test_assign_yields_one_template_id_and_template_per_line() -> None:
    miner = templates.TemplateMiner()
    lines = [f"user {i} logged in from 10.0.0.{i}" for i in range(5)] + ["disk /dev/sda1 is full"]
    out = list(miner.assign(lines))
    assert len(out) == 6
    assert len({tid for tid, _ in out[:5]}) == 1
    assert out[4][1] == "user <*> logged in from <*>"
    assert out[5][0] != out[0][0]
    assert [(s.count, s.template) for s in miner.templates()] == [
        (5, "user <*> logged in from <*>"),
        (1, "disk <*> is full"),
    ]
    assert [s.template for s in miner.rare()] == ["disk <*> is full"]


def test_max_clusters_bounds_memory() -> None:
    miner = templates.TemplateMiner(templates.MinerConfig(max_clusters=10))
    for i in range(100):
        miner.add(f"{'abcdefghij'[i % 10]}{i // 10} event kind{'xyz'[i % 3]} word{'pqrs'[i % 4]}")
    assert len(miner.templates()) <= 10


def test_analysis_reports_rare_and_new_templates() -> None:
    lines = ["GET /health 200"] * 20 + ["cache rebuilt in 3s", "GET /health 200"]
    result = analyze.analyze(lines, known_templates={"GET /health <*>"})
    assert result.templates is not None
    assert [t.template for t in result.templates.rare] == ["cache rebuilt in <*>"]
    assert [t.template for t in result.templates.new] == ["cache rebuilt in <*>"]
    assert result.templates.total == 2


def test_grouping_accuracy_follows_zhu_et_al() -> None:
    # groups: {0,1} correct; {2} splits truth "b" from line 3 -> both wrong; {4,5} merges b and c -> wrong
    assert templates.grouping_accuracy([1, 1, 2, 3, 4, 4], ["a", "a", "b", "b", "c", "d"]) == pytest.approx(
        2 / 6
    )
    assert templates.grouping_accuracy([], []) == 1.0
    with pytest.raises(ValueError, match="2 predictions for 1 lines"):
        templates.grouping_accuracy([1, 2], ["a"])
