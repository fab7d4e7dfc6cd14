"""The benchmark harness: run a topic of ``benchmarks/manifest.yaml`` (or one of its rows),
and rebuild ``benchmarks/RESULTS.md`` from the results.

    python benchmarks/bench.py list [TOPIC]
    python benchmarks/bench.py run TOPIC [--row NAME ...] [--dry-run]
    python benchmarks/bench.py results

Each row is one command run from the repository root with this Python (``run:``), or a
trained run decoded again with ``labelwise evaluate --set`` and recorded as a result row
(``evaluate:``). After each row RESULTS.md is rebuilt, so a topic cut off midway leaves
every finished row in it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
MANIFEST = BENCH / "manifest.yaml"
RESULTS = BENCH / "results"


def load_manifest(path: Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """The topics, in order; each row named and of one kind (``run`` or ``evaluate``)."""
    topics = yaml.safe_load(path.read_text())["topics"]
    for name, topic in topics.items():
        for key in ("title", "tables", "rows"):
            if key not in topic:
                raise ValueError(f"{path}: topic '{name}' has no '{key}'")
        names = [row.get("name") for row in topic["rows"]]
        if None in names or len(set(names)) != len(names):
            raise ValueError(f"{path}: every row of topic '{name}' needs a name of its own")
        for row in topic["rows"]:
            if ("run" in row) == ("evaluate" in row):
                raise ValueError(f"{path}: row '{name}/{row['name']}' needs one of 'run' or 'evaluate'")
    return topics


def row_command(row: dict[str, Any]) -> list[str]:
    """The command a ``run:`` row stands for (a Python script or a shell script)."""
    script, *args = shlex.split(row["run"])
    path = BENCH / script
    if not path.is_file():
        raise ValueError(f"row '{row['name']}': no script benchmarks/{script}")
    runner = ["bash"] if script.endswith(".sh") else [sys.executable]
    return [*runner, str(path.relative_to(ROOT)), *args]


def _evaluated(row: dict[str, Any]) -> str:
    """The run directory an ``evaluate`` row reads (a fusion's member: its own directory)."""
    return row["evaluate"] + (f"/members/{row['member']}" if "member" in row else "")


def evaluate_row(topic: str, row: dict[str, Any]) -> Path:
    """Decode a trained run's test split again with ``set`` overrides (what ``labelwise
    evaluate RUN --split test --set ...`` does, on the split as the run read it) and write
    the metrics as the result row ``results/<record>.json``. With ``member: i`` the run is a
    fusion and its member i is evaluated alone."""
    from labelwise import TextClassifier, rundir
    from labelwise.config import read_config
    from labelwise.profiling import device_name
    from labelwise.runner import load_run_data

    run_dir = ROOT / row["evaluate"]
    overrides = list(row.get("set", []))
    # member: i evaluates a fusion's member i alone, on the fusion's data (a member run
    # records no dataset) with its own training time (its decode.json)
    member = row.get("member")
    source = run_dir if member is None else rundir.member_dir(run_dir, int(member))
    clf = TextClassifier.load(source, overrides)
    data = load_run_data(clf.config_ if member is None else read_config(run_dir / rundir.CONFIG))
    if not data.test:
        raise ValueError(f"dataset '{data.name}' has no test split")
    t0 = time.perf_counter()
    metrics = clf.evaluate_examples(data.test, group_counts=data.full_train_counts)
    seconds = time.perf_counter() - t0
    trained = json.loads((run_dir / "metrics.json").read_text()) if member is None else \
        json.loads((source / rundir.DECODE).read_text())["train_state"]
    dataset, _, name = row["record"].partition("__")
    system, _, variant = name.partition("@")
    record = {
        "dataset": dataset, "system": f"labelwise:{system}", "variant": variant or None,
        "metrics": metrics, "metrics_std": None, "metrics_per_seed": [metrics],
        "seeds": [clf.config_.train.seed], "device": device_name(),
        "train_seconds": trained["train_seconds"], "train_seconds_per_seed": [trained["train_seconds"]],
        "test_docs_per_second": len(data.test) / seconds,
        "decoded_with": overrides, "run_dir": str(source.relative_to(ROOT)),
        "command": f"python benchmarks/bench.py run {topic} --row {row['name']}",
        "date": datetime.date.today().isoformat(),
    }
    out = RESULTS / f"{row['record']}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def run_topic(topics: dict[str, dict[str, Any]], topic: str, rows: list[str], dry_run: bool) -> int:
    chosen = topics[topic]["rows"]
    if rows:
        unknown = sorted(set(rows) - {r["name"] for r in chosen})
        if unknown:
            raise SystemExit(f"topic '{topic}' has no row {unknown}; its rows: "
                             + ", ".join(r["name"] for r in chosen))
        chosen = [r for r in chosen if r["name"] in rows]
    for row in chosen:
        shown = row["run"] if "run" in row else (
            f"labelwise evaluate {_evaluated(row)} --split test"
            + "".join(f" --set {o}" for o in row.get("set", [])) + f"  -> results/{row['record']}.json")
        print(f"[{topic}/{row['name']}] {shown}", flush=True)
        if dry_run:
            continue
        if "run" in row:
            subprocess.run(row_command(row), cwd=ROOT, check=True)
        else:
            print(f"wrote {evaluate_row(topic, row)}", flush=True)
        rebuild_results()
    return 0


def rebuild_results() -> None:
    subprocess.run([sys.executable, str(BENCH / "make_results_md.py")], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="the topics and their rows")
    ls.add_argument("topic", nargs="?")
    run = sub.add_parser("run", help="run a topic's rows, or some of them")
    run.add_argument("topic")
    run.add_argument("--row", action="append", default=[], help="only this row (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="print the commands only")
    sub.add_parser("results", help="rebuild RESULTS.md from results/*.json")
    args = p.parse_args(argv)
    topics = load_manifest()
    if args.cmd == "results":
        rebuild_results()
        return 0
    if getattr(args, "topic", None) and args.topic not in topics:
        raise SystemExit(f"no topic '{args.topic}'; topics: {', '.join(topics)}")
    if args.cmd == "list":
        for name, topic in topics.items():
            if args.topic and name != args.topic:
                continue
            print(f"{name}: {topic['title']}")
            for row in topic["rows"]:
                print(f"  {row['name']}: {row.get('run') or 'labelwise evaluate ' + _evaluated(row)}")
        return 0
    return run_topic(topics, args.topic, args.row, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
