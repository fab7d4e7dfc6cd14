"""``labelwise``: train | evaluate | predict | list | data | profile | serve | export. Thin: the work is in the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EPILOG = "Examples:\n  labelwise train --config configs/goemotions-cnn.yaml\n" \
         "  labelwise train --set data.dataset=sst2 --set model.encoder.name=bilstm\n" \
         "  labelwise predict runs/goemotions-cnn texts.txt -o predictions.jsonl"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labelwise", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model into a run directory")
    t.add_argument("--config", "-c", action="append", default=None,
                   help="YAML config file; repeat to merge several, later ones win")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. train.lr=3e-4 (repeatable)")
    t.add_argument("--output", "-o", help="run directory (default: runs/<data>-<model>)")
    t.add_argument("--data-dir", help="where named datasets live ($LABELWISE_DATA)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    t.add_argument("--resume", action="store_true", help="continue the run in --output")

    e = sub.add_parser("evaluate", help="measure a trained run on a labelled file or split")
    e.add_argument("run_dir")
    e.add_argument("--data", help="a labelled file (default: the run's dataset split)")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--data-dir")
    e.add_argument("--format", default="auto")
    e.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="decode differently with the same weights, e.g. model.chunk_pooling=max "
                        "(keys that leave the weights valid only; repeatable)")

    pr = sub.add_parser("predict", help="label a text file (one per line) or JSONL")
    pr.add_argument("run_dir")
    pr.add_argument("input", help="text file, one document per line, or JSONL with 'text'")
    pr.add_argument("--output", "-o", help="JSONL output (default: stdout)")
    pr.add_argument("--top-k", type=int, default=None,
                    help="also report the k best labels (default: the run's decode.top_k)")
    pr.add_argument("--batch-size", type=int, default=256)
    pr.add_argument("--resume", action="store_true",
                    help="continue an interrupted run: keep the records in --output, append the rest")

    ls = sub.add_parser("list", help="list registered components")
    ls.add_argument("kind", nargs="?", choices=["encoders", "heads", "losses", "metrics", "formats", "datasets"])

    pf = sub.add_parser("profile", help="parameters, FLOPs/document and documents/s of a config's model")
    pf.add_argument("--config", "-c", action="append", default=None, help="YAML config (repeatable)")
    pf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    pf.add_argument("--length", type=int, nargs="+", default=None,
                    help="document lengths in tokens (default: tokenizer.max_length)")
    pf.add_argument("--batch-size", type=int, default=16)
    pf.add_argument("--labels", type=int, default=2, help="number of outputs to build the head with")
    pf.add_argument("--train", action="store_true", help="also time training steps")
    pf.add_argument("--seconds", type=float, default=2.0, help="minimum timing per measurement")
    pf.add_argument("--json", help="also write the rows to this JSON file")

    ex = sub.add_parser("export", help="export a neural run to ONNX (plus tokenizer and labels)")
    ex.add_argument("run_dir")
    ex.add_argument("--format", default="onnx", choices=["onnx"])
    ex.add_argument("--out", "-o", help="output folder (default: RUN_DIR/onnx)")
    ex.add_argument("--quantize", action="store_true", help="also write an int8 dynamic-quantised model")
    ex.add_argument("--opset", type=int, default=17)

    sv = sub.add_parser("serve", help="serve a run over HTTP (POST /predict, GET /health, /metadata)")
    sv.add_argument("run_dir")
    sv.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (or set $LABELWISE_TOKEN)")
    sv.add_argument("--max-texts", type=int, default=256, help="texts per request")
    sv.add_argument("--max-text-chars", type=int, default=100_000)
    sv.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024)
    sv.add_argument("--max-batch", type=int, default=64, help="texts per model call")
    sv.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    sv.add_argument("--header-timeout", type=float, default=10.0,
                    help="seconds for a request's headers to arrive before the connection is closed")

    d = sub.add_parser("data", help="show, validate or fetch a named dataset")
    d.add_argument("action", choices=["list", "show", "validate", "fetch"])
    d.add_argument("name", nargs="?")
    d.add_argument("--data-dir")
    d.add_argument("--base-url", help="fetch: a mirror serving <name>/<file>")
    return p


def cmd_profile(args: argparse.Namespace) -> int:
    from labelwise.components import load_config
    from labelwise.profiling import profile_config

    cfg = load_config(args.config, list(args.overrides))
    lengths = args.length or [cfg.tokenizer.max_length]
    if min(lengths) < 1 or args.batch_size < 1 or args.labels < 1:
        raise ValueError("--length, --batch-size and --labels must be positive")
    rows = profile_config(cfg, lengths, args.batch_size, args.labels, args.train, args.seconds)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{cfg.model.encoder['name']} + {cfg.model.head['name']}")
    cols = ["length", "params", "flops_per_doc", "infer_docs_per_s", "train_docs_per_s", "peak_mem_mb"]
    cols = [c for c in cols if c in rows[0]]
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*(f"{r[c]:,.1f}" if isinstance(r[c], float) else f"{r[c]:,}" for c in cols))
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.run_dir) / "onnx"
    try:
        from labelwise.export import export_onnx

        path = export_onnx(args.run_dir, out, quantize=args.quantize, opset=args.opset)
    except ImportError as err:
        raise ValueError(f"ONNX export needs the 'export' extra: pip install 'labelwise[export]' ({err})") from None
    print(f"exported {path}" + (" and model.int8.onnx" if args.quantize else ""))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from labelwise.serve import ServeConfig, serve
    except ImportError as err:
        raise ValueError(f"serving needs the 'serve' extra: pip install 'labelwise[serve]' ({err})") from None

    cfg = ServeConfig(max_texts=args.max_texts, max_text_chars=args.max_text_chars,
                      max_body_bytes=args.max_body_bytes, max_batch=args.max_batch,
                      timeout_s=args.timeout, header_timeout_s=args.header_timeout,
                      token=args.token)
    if not Path(args.run_dir).is_dir():
        raise FileNotFoundError(f"run directory '{args.run_dir}' does not exist")
    serve(args.run_dir, args.host, args.port, cfg)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train; under ``torchrun`` every process runs this and rank 0 alone prints."""
    from labelwise import distributed, rundir
    from labelwise.components import load_config
    from labelwise.runner import train_run
    from labelwise.table import print_metrics

    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.resume:
        if not args.output:
            raise ValueError("--resume needs --output RUN_DIR (the run to continue)")
        cfg = load_config(Path(args.output) / rundir.CONFIG, overrides)
    else:
        cfg = load_config(args.config, overrides)
    _, metrics, run_dir = train_run(cfg, args.output and Path(args.output), args.overwrite, args.resume)
    if not distributed.is_main():
        return 0
    print_metrics({k: v for k, v in metrics.items() if isinstance(v, dict)}, title=str(run_dir))
    print(f"run directory: {run_dir}  (train {metrics['train_seconds']:.1f}s)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from labelwise.runner import evaluate_run

    metrics = evaluate_run(Path(args.run_dir), args.data and Path(args.data), args.split,
                           args.data_dir, args.format, args.overrides)
    print(json.dumps({k: round(v, 6) for k, v in metrics.items()}, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from labelwise.predict import predict_file

    n = predict_file(Path(args.run_dir), Path(args.input), args.output and Path(args.output),
                     args.top_k, args.batch_size, args.resume)
    print(f"labelled {n} documents", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from labelwise.components import load_all
    from labelwise.registry import ENCODERS, FORMATS, HEADS, LOSSES, METRICS

    load_all()
    regs = {"encoders": ENCODERS, "heads": HEADS, "losses": LOSSES, "metrics": METRICS,
            "formats": FORMATS}
    kinds = [args.kind] if args.kind else [*regs, "datasets"]
    for kind in kinds:
        print(f"{kind}:")
        if kind == "datasets":
            from labelwise.data.catalog import CATALOG

            for name in sorted(CATALOG):
                print(f"  {name:<16} {CATALOG[name].description}")
            continue
        for name, doc in regs[kind].describe():
            print(f"  {name:<20} {doc}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from labelwise.data import catalog, fetch

    if args.action == "list":
        return cmd_list(argparse.Namespace(kind="datasets"))
    if not args.name:
        raise ValueError(f"'labelwise data {args.action}' needs a dataset name (see 'labelwise data list')")
    if args.action == "fetch":
        import os

        target = args.data_dir or os.environ.get(catalog.DATA_ENV) or catalog.default_cache_dir()
        where = fetch.fetch(args.name, catalog.resolve_data_dir(target, create=True), base_url=args.base_url)
        print(f"{args.name}: ready in {where}")
        return 0
    data_dir = catalog.resolve_data_dir(args.data_dir)
    if args.action == "show":
        print(json.dumps(catalog.describe(args.name, data_dir), indent=2))
        return 0
    report = catalog.validate(args.name, data_dir)
    print(json.dumps(report, indent=2))
    return 0 if report.get("ok", False) else 1


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "list": cmd_list, "data": cmd_data, "profile": cmd_profile,
            "serve": cmd_serve, "export": cmd_export}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"labelwise {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; completed checkpoints are kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
