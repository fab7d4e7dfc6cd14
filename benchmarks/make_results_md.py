"""Build benchmarks/RESULTS.md: one section per topic of ``benchmarks/manifest.yaml``, in
its order, each the topic's notes (``benchmarks/notes/<topic>.md``, written by hand) with
the tables generated from ``benchmarks/results/*.json`` where the notes say
``<!-- tables -->``. Every result row must belong to a table of some topic.

    python benchmarks/make_results_md.py      (or: python benchmarks/bench.py results)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MD = ROOT / "benchmarks" / "RESULTS.md"
NOTES = ROOT / "benchmarks" / "notes"
MANIFEST = ROOT / "benchmarks" / "manifest.yaml"
TABLES = "<!-- tables -->"
COLUMNS = {
    "goemotions": ["micro_f1", "macro_f1", "hamming_loss", "f1_head", "f1_medium", "f1_tail",
                   "silhouette", "davies_bouldin"],
    "goemotions-groups": ["micro_f1", "macro_f1", "level1_accuracy", "level2_accuracy"],
    "20newsgroups-hier": ["micro_f1", "macro_f1", "level1_accuracy", "level2_accuracy"],
    "sst2": ["accuracy", "macro_f1"],
    "20newsgroups": ["accuracy", "macro_f1"],
    "imdb": ["accuracy", "macro_f1", "macro_recall"],
    "eurlex57k": ["p@1", "p@5", "ndcg@5", "rprec@5", "psp@5", "micro_f1", "macro_f1",
                  "frequent_p@5", "fewshot_p@5", "fewshot_ndcg@5"],
}
ORDER = ["linear-tfidf", "linear-tfidf-l2svm", "linear-tfidf-l2svm-w200", "labelwise:cnn", "labelwise:bilstm", "labelwise:transformer",
         "labelwise:pretrained-frozen", "labelwise:transformer-small", "labelwise:transformer-supcon",
         "labelwise:multilevel-nocl", "labelwise:multilevel-nolight", "labelwise:multilevel",
         "labelwise:lant", "labelwise:plant", "labelwise:plant-chunks", "labelwise:plant-stateful",
         "labelwise:plant-stateful-maxdecode"]
PROFILE = RESULTS / "profile"


RAW = {"silhouette", "davies_bouldin"}  # not fractions: shown as they are, not in percent


def cell(r: dict, name: str) -> str:
    v = r["metrics"].get(name)
    if v is None:
        return "-"
    std = (r.get("metrics_std") or {}).get(name)
    scale, digits = (1, 3) if name in RAW else (100, 2)
    return f"{scale * v:.{digits}f}" + (f" ± {scale * std:.{digits}f}" if std is not None else "")


def table(dataset: str, rows: list[dict]) -> str:
    cols = COLUMNS.get(dataset, sorted(rows[0]["metrics"]))
    profiles = load_profiles(dataset)
    head = ["system", *cols, "seeds", "train s", "test docs/s"]
    if profiles:
        head += ["params (M)", "GFLOPs/doc", "profiled docs/s infer / train"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = sorted(rows, key=lambda r: (ORDER.index(r["system"]) if r["system"] in ORDER else 99,
                                       r["system"], str(r.get("variant") or "")))
    for r in rows:
        vals = [cell(r, c) for c in cols]
        extra = []
        if profiles:
            pr = profiles.get(r["system"])
            extra = ["-", "-", "-"] if pr is None else [
                f"{pr['params'] / 1e6:.2f}", f"{pr['flops_per_doc'] / 1e9:.3f}",
                "-" if pr.get("infer_docs_per_s") is None
                else f"{pr['infer_docs_per_s']:.0f} / {pr['train_docs_per_s']:.0f}"]
        label = r["system"] + (f" @{r['variant']}" if r.get("variant") else "")
        lines.append("| " + " | ".join([
            label, *vals, str(len(r["seeds"])), f"{r['train_seconds']:.0f}",
            f"{r.get('test_docs_per_second', 0):.0f}", *extra]) + " |")
    cmds = sorted({r["command"] for r in rows} | {p["command"] for p in profiles.values()})
    return (f"### {dataset}\n\n" + "\n".join(lines) + "\n\nCommands:\n\n"
            + "\n".join(f"- `{c}`" for c in cmds) + "\n")


def load_profiles(dataset: str) -> dict[str, dict]:
    """``benchmarks/profile_systems.py`` rows for this dataset, keyed by system."""
    out = {}
    for f in sorted(PROFILE.glob(f"{dataset}__*.json")):
        r = json.loads(f.read_text())
        out[r["system"]] = r
    return out


def tradeoff_plot(dataset: str, rows: list[dict], metric: str) -> Path | None:
    """Quality against inference documents/s, one point per system (profiled speed where
    measured, else the speed seen on the test split). Returns the PNG written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = load_profiles(dataset)
    pts = []
    for r in rows:
        if metric not in r["metrics"]:
            continue
        pr = profiles.get(r["system"])
        speed = (pr or {}).get("infer_docs_per_s") or r.get("test_docs_per_second")
        if speed:
            std = (r.get("metrics_std") or {}).get(metric) or 0.0
            pts.append((r["system"], speed, 100 * r["metrics"][metric], 100 * std))
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (name, x, y, e) in enumerate(sorted(pts, key=lambda p: (p[2], p[1]))):
        ax.errorbar([x], [y], yerr=[e], fmt="o", capsize=3)
        ax.annotate(name.replace("labelwise:", ""), (x, y), textcoords="offset points",
                    xytext=(5, 4 - 11 * (i % 2)), fontsize=8)  # alternate: close points stay legible
    ax.set_xscale("log")
    ax.set_xlabel("inference documents / s (CPU, log scale)")
    ax.set_ylabel(f"test {metric} (%)")
    ax.set_title(f"{dataset}: quality against speed")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = RESULTS / f"{dataset}_tradeoff.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


COMPARE = RESULTS / "compare"
SERVE = RESULTS / "serve" / "load.json"
SERVE_CALM = RESULTS / "serve" / "load-calm.json"  # the same load without hostile clients


def _hostile_table(hostile: dict | None) -> str:
    """The answers the hostile clients of the load phase got, by kind and status."""
    if not hostile or not hostile.get("clients"):
        return ""
    lines = ["| hostile client | answers |", "|---|---|"]
    for kind, answers in hostile["answers"].items():
        shown = ", ".join(f"{status}: {n}" for status, n in sorted(answers.items())) or "-"
        lines.append(f"| {kind} | {shown} |")
    return (f"\nBeside the good clients, {hostile['clients']} hostile ones (header timeout "
            f"{hostile['header_timeout_s']:g} s):\n\n" + "\n".join(lines) + "\n")


def compare_tables() -> str:
    """The side-by-side benchmark (``benchmarks/compare/compare_tools.py``) and the service
    load test (``benchmarks/load_test.py``)."""
    parts = []
    # one folder per machine: compare/ itself, then compare/<machine>/ for reruns elsewhere
    folders = [COMPARE, *sorted(d for d in COMPARE.iterdir() if d.is_dir())] if COMPARE.is_dir() else []
    groups = []
    for folder in folders:
        records = [json.loads(f.read_text()) for f in sorted(folder.glob("*__*.json"))]
        groups += [(d, [r for r in records if r["dataset"] == d], folder != COMPARE)
                   for d in sorted({r["dataset"] for r in records})]
    for dataset, rows, elsewhere in groups:
        quality = ["micro_f1", "macro_f1"] if "hamming_loss" in rows[0]["metrics"] else ["accuracy", "macro_f1"]
        head = ["system", *quality, "train s", "infer docs/s", "peak MiB",
                "trains x faster than SetFit", "infers x faster than SetFit"]
        setfit = next((r for r in rows if r["system"] == "setfit"), None)
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in sorted(rows, key=lambda r: r["system"]):
            lines.append("| " + " | ".join([
                r["system"], *(f"{100 * r['metrics'][q]:.2f}" for q in quality), f"{r['train_seconds']:.1f}",
                f"{r['infer_docs_per_s']:.0f}", f"{r['peak_rss_mib']:.0f}",
                f"{setfit['train_seconds'] / r['train_seconds']:.2f}" if setfit else "-",
                f"{r['infer_docs_per_s'] / setfit['infer_docs_per_s']:.2f}" if setfit else "-"]) + " |")
        cmds = sorted({r["command"] for r in rows})
        title = f"{dataset}, {rows[0]['device']}" if elsewhere else dataset
        parts.append(f"### {title}\n\n" + "\n".join(lines) + "\n\nCommands:\n\n"
                     + "\n".join(f"- `{c}`" for c in cmds) + "\n")
    if SERVE.is_file():
        s = json.loads(SERVE.read_text())
        one, mem = s["single_client"], s["server_rss_mib"]
        calm = json.loads(SERVE_CALM.read_text()) if SERVE_CALM.is_file() else None
        hostile = (s.get("hostile") or {}).get("clients", 0)
        rows = [f"| one client | {one['requests']} | - | {one['p50_ms']:.1f} | {one['p99_ms']:.1f} | {one['errors']} | - |"]
        for label, rec in (("", calm), (f" + {hostile} hostile", s)):
            if rec is None:
                continue
            ld, m = rec["load"], rec["server_rss_mib"]
            rows.append(f"| {ld['clients']} clients{label if rec is s and hostile else ''}, {ld['seconds']:.0f} s "
                        f"| {ld['requests']} | {ld['throughput_rps']:.0f} | {ld['p50_ms']:.1f} | {ld['p99_ms']:.1f} "
                        f"| {ld['errors']} | {m['first']:.0f} / {m['last']:.0f} |")
        parts.append(
            "### service under load\n\n"
            "| phase | requests | throughput (req/s) | p50 ms | p99 ms | errors | server MiB first / last |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"Server memory (RSS, MiB) under the last phase: max {mem['max']:.0f}; mean of the first half "
            f"{mem['mean_first_half']:.0f}, second half {mem['mean_second_half']:.0f}. "
            f"Machine: {s['device']}. Commands: `{s['command']}`"
            + (f", and with `--hostile 0 --out {SERVE_CALM.relative_to(RESULTS.parent.parent)}` for the calm row"
               if calm else "") + ".\n" + _hostile_table(s.get("hostile")))
    return "\n".join(parts)


def load_rows() -> dict[str, dict]:
    """Every result row, keyed by its file's stem ``<dataset>__<system>[@tag]``."""
    return {f.stem: json.loads(f.read_text()) for f in sorted(RESULTS.glob("*__*.json"))}


def row_system(stem: str) -> str:
    """``eurlex57k__plant@frac0.01`` -> ``plant`` (the config under configs/bench/systems)."""
    return stem.partition("__")[2].partition("@")[0]


THROUGHPUT = RESULTS / "throughput"


def throughput_markdown(record: dict) -> str:
    """The table of ``benchmarks/throughput.py``'s rows."""
    # rows measured before the precision was recorded ran in float32 (machines without bf16)
    lines = ["| model | frozen layers | batches | precision | padding share | train docs/s | infer docs/s |",
             "|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        lines.append(f"| {r['model']} | {r['freeze_layers']} | {r['padding']} | {r.get('precision', 'fp32')} "
                     f"| {100 * r['padding_share']:.0f} % "
                     f"| {r['train_docs_per_s']:.1f} | {r['infer_docs_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


def throughput_table(dataset: str) -> str:
    path = THROUGHPUT / f"{dataset}.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text())
    return (f"### {dataset}: fine-tuning and inference throughput\n\n" + throughput_markdown(r)
            + f"\n{r['max_length']} tokens at most, batches of {r['batch_size']}, {r['steps']} timed batches "
            f"per cell, {r['torch_threads']} torch threads; {r['device']}, {r['date']}. "
            f"Command: `{r['command']}`.\n")


LINEAR_DEFAULTS = RESULTS / "linear-defaults"


def linear_defaults_table(name: str) -> str:
    """One study of ``benchmarks/linear_defaults.py``: every candidate's validation metrics
    (under each threshold rule where the task has thresholds) and fit time."""
    path = LINEAR_DEFAULTS / f"{name}.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text())
    primary, rows = r["primary"], r["rows"]
    rules = list(dict.fromkeys(x["thresholds"] for x in rows))
    ruled = [x for x in rules if x != "none"]
    heads = [f"{primary} ({x} thresholds)" for x in ruled] + ([f"macro_f1 ({x})" for x in ruled] if ruled else [])
    if not ruled:
        heads = [primary, "macro_f1"]
    lines = ["| candidate | settings | " + " | ".join(heads) + " | fit s |",
             "|---|---|" + "---|" * len(heads) + "---|"]
    best = {h: max(x["metrics"][primary] for x in rows if x["thresholds"] == h) for h in rules}
    for cand in dict.fromkeys(x["candidate"] for x in rows):
        mine = {x["thresholds"]: x for x in rows if x["candidate"] == cand}
        first = next(iter(mine.values()))
        cells = []
        for h in rules:
            v = mine[h]["metrics"][primary]
            cells.append(f"**{100 * v:.2f}**" if v == best[h] else f"{100 * v:.2f}")
        cells += [f"{100 * mine[h]['metrics']['macro_f1']:.2f}" for h in rules]
        settings = ", ".join(f"{k}={v}" for k, v in first["linear"].items())
        lines.append(f"| {cand} | {settings} | " + " | ".join(cells) + f" | {first['train_seconds']:.1f} |")
    x = rows[0]
    commands = list(dict.fromkeys(r["command"] for r in rows))  # the candidates ran in one or more studies
    said = f"Command: `{commands[0]}`." if len(commands) == 1 else "Commands (in the order of the rows): " + \
        "; ".join(f"`{c}`" for c in commands) + "."
    return (f"### {name}: {x['num_train']:,} training documents, {x['num_valid']:,} validation\n\n"
            + "\n".join(lines) + f"\n\nValidation split, seed {x['seeds'][0]}, one thread; {x['device']}. "
            f"{said}\n")


FEWSHOT = RESULTS / "fewshot"


def fewshot_table(dataset: str) -> str:
    """``benchmarks/compare/fewshot.py``'s rows for one dataset: each k, each system, with
    its training time against SetFit's on the same samples."""
    records = [json.loads(f.read_text()) for f in sorted(FEWSHOT.glob(f"{dataset}@k*__*.json"))]
    if not records:
        return ""
    quality = ["accuracy", "macro_f1"]
    head = ["examples per class", "system", *quality, "seeds", "train s", "trains x faster than SetFit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(records, key=lambda r: (r["shots_per_class"], r["system"])):
        setfit = next((q for q in records if q["shots_per_class"] == r["shots_per_class"] and q["system"] == "setfit"),
                      None)
        lines.append("| " + " | ".join([
            str(r["shots_per_class"]), r["system"], *(cell(r, q) for q in quality), str(len(r["seeds"])),
            f"{r['train_seconds']:.1f}",
            f"{setfit['train_seconds'] / r['train_seconds']:.2f}" if setfit else "-"]) + " |")
    cmds = sorted({r["command"] for r in records})
    devices = sorted({r["device"] for r in records})
    return (f"### {dataset}, few-shot\n\n" + "\n".join(lines) + "\n\nCommands:\n\n"
            + "\n".join(f"- `{c}`" for c in cmds) + f"\n\nDevice: {'; '.join(devices)}.\n")


XMC = RESULTS / "xmc"


def xmc_table(dataset: str) -> str:
    """``benchmarks/compare/xmc.py``'s rows for one dataset: ranking quality, fit time (and
    how many times faster than labelwise's one-vs-rest), prediction speed and peak memory."""
    records = [json.loads(f.read_text()) for f in sorted(XMC.glob(f"{dataset}__*.json"))]
    if not records:
        return ""
    quality = ["p@1", "p@5", "ndcg@5", "psp@5"]
    ovr = next((r for r in records if r["system"].startswith("labelwise:linear-l2svm")), None)
    head = ["system", *quality, "fit s", "fits x faster than one-vs-rest", "predict docs/s", "peak MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(records, key=lambda r: -r["metrics"]["p@5"]):
        lines.append("| " + " | ".join([
            r["system"], *(f"{100 * r['metrics'][q]:.2f}" for q in quality), f"{r['train_seconds']:.0f}",
            f"{ovr['train_seconds'] / r['train_seconds']:.1f}" if ovr else "-", f"{r['infer_docs_per_s']:.0f}",
            f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"]) + " |")
    cmds = sorted({r["command"] for r in records})
    devices = sorted({r["device"] for r in records})
    return (f"### {dataset}: one-vs-rest, label trees and the tools users pick\n\n" + "\n".join(lines)
            + "\n\nCommands:\n\n" + "\n".join(f"- `{c}`" for c in cmds) + f"\n\nDevice: {'; '.join(devices)}.\n")


def label_scaling_table() -> str:
    """``benchmarks/label_scaling.py``'s cells: cost against the number of labels."""
    path = RESULTS / "label_scaling.json"
    if not path.is_file():
        return ""
    records = json.loads(path.read_text())
    head = ["labels", "model", "fit s", "predict ms/doc", "peak GiB", "weights GiB", "P@1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(records, key=lambda r: (r["num_labels"], r["model"])):
        if r.get("skipped"):
            lines.append(f"| {r['num_labels']:,} | {r['model']} | not started: {r['why']} | | | | |")
            continue
        fit = f"{r['fit_seconds']:,.0f}"
        if r.get("estimated"):
            fit = f"~{fit} (from {r['fitted_labels']:,} labels)"
        predict = f"{r['predict_ms_per_doc']:.2f}" if "predict_ms_per_doc" in r else f"not timed: {r.get('why', '-')}"
        if r.get("predict_estimated"):
            predict = f"~{predict} (from {r['fitted_labels']:,} labels)"
        p1 = f"{100 * r['p@1']:.1f}" if "p@1" in r else "-"
        lines.append(f"| {r['num_labels']:,} | {r['model']} | {fit} | {predict} | {r['peak_rss_gib']:.2f} | "
                     f"{r['weights_gib']:.2f} | {p1} |")
    first = next((r for r in records if not r.get("skipped")), None)
    if first is None:
        return ""
    per_doc = f", {first['labels_per_doc']:.1f} labels and {first['features_per_doc']:.0f} features a document" \
        if "labels_per_doc" in first else ""
    return ("### Cost against the number of labels (generated data)\n\n" + "\n".join(lines)
            + f"\n\n{first['num_train']:,} training and {first['num_test']:,} test documents, "
            f"{first['num_features']:,} features{per_doc}, {first['jobs']} worker(s). Command: "
            "`python benchmarks/label_scaling.py`.\n\n![cost against labels](results/label_scaling.png)\n")


LEADERBOARD = RESULTS / "leaderboard"


def _compare_rows(dataset: str) -> list[tuple[str, dict]]:
    """The side-by-side harness's rows of ``dataset``, from every machine's folder, each
    with the folder it came from (its inference-path twins left out: the same model)."""
    out = []
    for f in sorted(COMPARE.rglob(f"{dataset}__*.json")):
        if "@" in f.stem:
            continue
        folder = f.parent.relative_to(COMPARE).as_posix()
        out.append(("side by side" + ("" if folder == "." else f" ({folder})"), json.loads(f.read_text())))
    return out


def leaderboard(dataset: str, rows: dict[str, dict]) -> tuple[str, set[str]]:
    """Every system measured on all of ``dataset`` (the topics' rows, and other tools from
    the side-by-side harness), best first: quality, training time, inference docs/s, and a
    PNG of quality against training time. Returns the markdown and the rows it shows."""
    cols = COLUMNS.get(dataset, ["accuracy", "macro_f1"])
    primary = cols[0]
    chosen = {stem: r for stem, r in rows.items() if r["dataset"] == dataset  # all of the data
              and stem.partition("@")[2] in ("", "frac1.0") and primary in r["metrics"]}
    entries = [("topics", r) for r in chosen.values()] + [
        (src, r) for src, r in _compare_rows(dataset) if primary in r["metrics"]]
    if not entries:
        return "", set()
    entries.sort(key=lambda e: -e[1]["metrics"][primary])
    shown = cols[:2]
    head = ["system", *shown, "seeds", "train s", "infer docs/s", "measured by", "device"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for src, r in entries:
        speed = r.get("infer_docs_per_s") or r.get("test_docs_per_second")
        reused = _reuses_a_run(r)
        lines.append("| " + " | ".join([
            r["system"], *[cell(r, c) for c in shown], str(len(r["seeds"])),
            f"{r['train_seconds']:.0f}" + (" + a member trained before" if reused else ""),
            "-" if not speed else f"{speed:.0f}", src, r["device"]]) + " |")
    png = _leaderboard_plot(dataset, entries, primary)
    return (f"### {dataset}\n\n" + "\n".join(lines) + f"\n\nQuality against training time: `{png.relative_to(ROOT)}` "
            "(without rows that reused a trained member). "
            "Rows from the topics above (their commands are there) and from the side-by-side harness "
            "(the tools topic). Training times come from different machines and thread settings: "
            "compare them within one source and device.\n", set(chosen))


def _reuses_a_run(r: dict) -> bool:
    """A fusion row whose member was a run trained before: its time leaves that out (and
    its point is left off the plot)."""
    return any("{run:" in o for o in r.get("overrides") or [])


def _leaderboard_plot(dataset: str, entries: list[tuple[str, dict]], metric: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    pts = sorted(((r["train_seconds"], 100 * r["metrics"][metric], r["system"], src) for src, r in entries
                  if r["train_seconds"] > 0 and not _reuses_a_run(r)), key=lambda p: (p[1], p[0]))
    for i, (x, y, name, src) in enumerate(pts):
        ax.scatter([x], [y], s=30, marker="o" if src == "topics" else "s")
        ax.annotate(name.replace("labelwise:", ""), (x, y), textcoords="offset points",
                    xytext=(5, 4 - 11 * (i % 2)), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (log scale; circles: topics, squares: side by side)")
    ax.set_ylabel(f"test {metric} (%)")
    ax.set_title(f"{dataset}: quality against training time")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    LEADERBOARD.mkdir(parents=True, exist_ok=True)
    path = LEADERBOARD / f"{dataset}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


ABSTAIN = RESULTS / "abstain"


def abstain_table(dataset: str) -> str:
    """``benchmarks/abstain.py``: in-scope accuracy, out-of-scope recall and the share
    answered, for each way of abstaining."""
    path = ABSTAIN / f"{dataset}.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text())
    lines = ["| system | in-scope accuracy | out-of-scope recall | answered | accuracy (oos a class) | train s |",
             "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        m = row["metrics"]
        lines.append(f"| {row['system']} | {100 * m['in_scope_accuracy']:.2f} | {100 * m['out_of_scope_recall']:.2f} "
                     f"| {100 * m['answered']:.2f} | {100 * m['accuracy']:.2f} | {row['train_seconds']:.0f} |")
    return (f"### {dataset}: out-of-scope texts\n\n" + "\n".join(lines)
            + f"\n\nOut of scope: {', '.join(r['held_out'])} ({r['test_out_of_scope']:,} of "
            f"{r['test_documents']:,} test documents); {', '.join(r['lend_an_oos_class'])} lend "
            f"{r['oos_class_documents']:,} training documents to the oos class of the last row, the others are "
            f"never seen. {r['train_documents']:,} in-scope training documents; seed {r['seeds'][0]}; "
            f"{r['device']}, {r['date']}. Command: `{r['command']}`.\n")


FAITHFULNESS = RESULTS / "faithfulness"


def faithfulness_table(dataset: str) -> str:
    """``benchmarks/faithfulness.py``: the label's score drop when the k tokens an
    explanation weighs most are deleted, against k random ones."""
    path = FAITHFULNESS / f"{dataset}.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text())
    ks = sorted({int(k) for row in r["rows"] for k in row["by_k"]})
    head = ["run", "explained by", "pairs"] + [f"k={k}: top / random drop, top wins" for k in ks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in r["rows"]:
        cells = []
        for k in ks:
            c = row["by_k"].get(str(k))
            cells.append("-" if c is None else
                         f"{c['top_drop']:.3f} / {c['random_drop']:.3f}, {100 * c['top_beats_random']:.0f} %")
        lines.append(f"| `{Path(row['run']).name}` | {row['model']} | {row['pairs']} | " + " | ".join(cells) + " |")
    devices = sorted({row["device"] for row in r["rows"]})
    return (f"### {dataset}: deleting what the explanation weighs most\n\n" + "\n".join(lines)
            + f"\n\n{r['docs']} test documents (seed {r['seed']}); score drops are of the label's probability. "
            f"{'; '.join(devices)}. Commands: " + "; ".join(f"`{row['command']}`" for row in r["rows"]) + ".\n")


# table kinds that read their own result files (not the topics' rows): kind -> its table,
# given the kind's value in the manifest (a dataset name, or true)
OWN_TABLES: dict[str, Callable[[Any], str]] = {
    "compare": lambda _: compare_tables(),
    "throughput": throughput_table,
    "linear_defaults": linear_defaults_table,
    "fewshot": fewshot_table,
    "label_scaling": lambda _: label_scaling_table(),
    "xmc": xmc_table,
    "abstain": abstain_table,
    "faithfulness": faithfulness_table,
}


def topic_tables(spec: list[dict], rows: dict[str, dict]) -> tuple[str, set[str]]:
    """The generated tables of one topic, and the result rows they show."""
    parts, used = [], set()
    for t in spec:
        kind = next((k for k in OWN_TABLES if t.get(k)), None)
        if kind is not None:
            parts.append(OWN_TABLES[kind](t[kind]))
            continue
        if t.get("leaderboard"):
            board, shown = leaderboard(t["leaderboard"], rows)
            parts.append(board)
            used |= shown
            continue
        # variants: only the rows of these tags ("" for none), where the systems have many
        chosen = {stem: r for stem, r in rows.items()
                  if r["dataset"] == t["dataset"] and row_system(stem) in t["systems"]
                  and ("variants" not in t or (r.get("variant") or "") in t["variants"])}
        if not chosen:
            continue
        used |= set(chosen)
        devices = sorted({r["device"] for r in chosen.values()})
        parts.append(table(t["dataset"], list(chosen.values()))
                     + f"\nDevice: {'; '.join(devices)}.\n")
    if used:
        parts.insert(0, "Metrics in percent on the test split, mean ± standard deviation over "
                        "seeds (no ± where one seed ran).\n")
    return "\n".join(parts), used


def main() -> None:
    topics = yaml.safe_load(MANIFEST.read_text())["topics"]
    rows = load_rows()
    sections = ["# Benchmarks\n", (NOTES / "intro.md").read_text()]
    shown: set[str] = set()
    for name, topic in topics.items():
        tables, used = topic_tables(topic["tables"], rows)
        shown |= used
        notes = (NOTES / f"{name}.md").read_text()
        body = notes.replace(TABLES, tables.rstrip("\n")) if TABLES in notes else notes + "\n" + tables
        sections.append(f"## {topic['title']}\n\n{body.strip()}\n")
    missing = sorted(set(rows) - shown)
    if missing:
        raise SystemExit(f"result rows in no topic's table of {MANIFEST.name}: {', '.join(missing)}")
    imdb = [r for r in rows.values() if r["dataset"] == "imdb"]
    if imdb:
        tradeoff_plot("imdb", imdb, COLUMNS["imdb"][0])
    MD.write_text("\n".join(sections))


if __name__ == "__main__":
    main()
