"""``labelwise``: train | evaluate | predict | tune | list | data | profile | serve | export. Thin: the work is in the library."""

from __future__ import annotations

import argparse
import errno
import json
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labelwise.errors import (
    EXIT_INTERRUPTED,
    EXIT_SYSTEM,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UserError,
)
from labelwise.registry import PLUGGABLE

EPILOG = "Examples:\n  labelwise train --config configs/goemotions-cnn.yaml\n" \
         "  labelwise train --set data.dataset=sst2 --set model.encoder.name=bilstm\n" \
         "  labelwise predict runs/goemotions-cnn texts.txt -o predictions.jsonl"


def _number(kind: type, low: float, high: float | None = None) -> Any:
    """An argparse type: a ``kind`` number from ``low`` to ``high`` (inclusive)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not low <= value <= (high if high is not None else math.inf) or value != value:
            span = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a value {span}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


POSITIVE = _number(int, 1)
SECONDS = _number(float, 0.001, 86_400)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labelwise", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model into a run directory")
    t.add_argument("--config", "-c", action="append", default=None,
                   help="YAML config file; repeat to merge several, later ones win")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. train.lr=3e-4 (repeatable)")
    t.add_argument("--preset", choices=["fast", "balanced", "best"],
                   help="choose the model for the data: fast (the tuned linear model), balanced "
                        "(linear + MiniLM-L3, one epoch), best (linear + MiniLM-L6 fine-tuned); on extreme tasks both "
                        "fuse the linear model with a label tree; it says what it chose")
    t.add_argument("--dataset", "-d", metavar="NAME",
                   help="a dataset of the data directory: a catalog name or a folder with "
                        "train and test files (sets data.dataset)")
    t.add_argument("--output", "-o", help="run directory (default: runs/<data>-<model>)")
    t.add_argument("--data-dir", help="where named datasets live ($LABELWISE_DATA)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    t.add_argument("--resume", action="store_true", help="continue the run in --output")

    def labelled_data_args(p: argparse.ArgumentParser) -> None:
        """A run, and the labelled data to measure it on (evaluate, report)."""
        p.add_argument("run_dir")
        p.add_argument("--data", help="a labelled file (default: the run's dataset split)")
        p.add_argument("--split", default="test", choices=["train", "valid", "test"])
        p.add_argument("--data-dir")
        p.add_argument("--format", default="auto")

    e = sub.add_parser("evaluate", help="measure a trained run on a labelled file or split")
    labelled_data_args(e)
    e.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="decode differently with the same weights, e.g. model.chunk_pooling=max "
                        "(keys that leave the weights valid only; repeatable)")

    rp = sub.add_parser("report", help="one HTML page about a run: metrics per label and bucket, plots, model card")
    labelled_data_args(rp)
    rp.add_argument("--output", "-o", help="the page (default: RUN_DIR/report.html)")

    xp = sub.add_parser("explain", help="why each text got its labels: per-label token weights (JSON, HTML)")
    xp.add_argument("run_dir")
    xp.add_argument("input", help="text file, one document per line, JSONL with 'text', or - for stdin")
    xp.add_argument("--label", action="append", default=[], help="explain this label (repeatable; "
                    "default: the labels each text is given)")
    xp.add_argument("--output", "-o", help="JSON lines output, one record a text (default: stdout)")
    xp.add_argument("--html", help="also write a self-contained HTML page with the tokens highlighted")
    xp.add_argument("--max-texts", type=POSITIVE, default=100, help="explain at most this many texts (100)")

    pr = sub.add_parser("predict", help="label a text file (one per line) or JSONL")
    pr.add_argument("run_dir")
    pr.add_argument("input", help="text file, one document per line, or JSONL with 'text'")
    pr.add_argument("--output", "-o", help="JSONL output (default: stdout)")
    pr.add_argument("--top-k", type=_number(int, 1, 1000), default=None,
                    help="also report the k best labels (default: the run's decode.top_k)")
    pr.add_argument("--batch-size", type=POSITIVE, default=256)
    pr.add_argument("--resume", action="store_true",
                    help="continue an interrupted run: keep the records in --output, append the rest")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing --output file")

    ls = sub.add_parser("list", help="list registered components")
    ls.add_argument("kind", nargs="?", choices=[*PLUGGABLE, "datasets"])

    pf = sub.add_parser("profile", help="parameters, FLOPs/document and documents/s of a config's model")
    pf.add_argument("--config", "-c", action="append", default=None, help="YAML config (repeatable)")
    pf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    pf.add_argument("--length", type=POSITIVE, nargs="+", default=None,
                    help="document lengths in tokens (default: tokenizer.max_length)")
    pf.add_argument("--batch-size", type=POSITIVE, default=16)
    pf.add_argument("--labels", type=POSITIVE, default=2, help="number of outputs to build the head with")
    pf.add_argument("--train", action="store_true", help="also time training steps")
    pf.add_argument("--seconds", type=_number(float, 0.01, 3600), default=2.0,
                    help="minimum timing per measurement")
    pf.add_argument("--json", help="also write the rows to this JSON file")

    ex = sub.add_parser("export", help="export a neural run to ONNX (plus tokenizer and labels), or a "
                                       "fine-tuned pretrained encoder to a Hugging Face folder")
    ex.add_argument("run_dir")
    ex.add_argument("--format", default="onnx", choices=["onnx", "hf"],
                    help="onnx: ONNX Runtime; hf: a transformers sequence-classification folder")
    ex.add_argument("--out", "-o", help="output folder (default: RUN_DIR/onnx or RUN_DIR/hf)")
    ex.add_argument("--quantize", action="store_true", help="also write an int8 dynamic-quantised model")
    ex.add_argument("--opset", type=_number(int, 14, 21), default=17)

    sv = sub.add_parser("serve", help="serve a run over HTTP (POST /predict, GET /health, /metadata)")
    sv.add_argument("run_dir")
    sv.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    sv.add_argument("--port", type=_number(int, 0, 65535), default=8000)
    sv.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (or set $LABELWISE_TOKEN)")
    sv.add_argument("--max-texts", type=POSITIVE, default=256, help="texts per request")
    sv.add_argument("--max-text-chars", type=POSITIVE, default=100_000)
    sv.add_argument("--max-body-bytes", type=POSITIVE, default=8 * 1024 * 1024)
    sv.add_argument("--max-batch", type=POSITIVE, default=64, help="texts per model call")
    sv.add_argument("--timeout", type=SECONDS, default=30.0, help="seconds per request")
    sv.add_argument("--header-timeout", type=SECONDS, default=10.0,
                    help="seconds for a request's headers to arrive before the connection is closed")

    tu = sub.add_parser("tune", help="search config settings with Optuna on the validation split")
    tu.add_argument("--config", "-c", action="append", default=None, help="base YAML config (repeatable)")
    tu.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a base config value (repeatable)")
    tu.add_argument("--space", required=True, help="YAML search space: metric and params (see docs)")
    tu.add_argument("--output", "-o", required=True,
                    help="tune directory: the study (run again to continue it), best.yaml, trials")
    tu.add_argument("--trials", type=POSITIVE, default=20, help="finished trials the study should hold")
    tu.add_argument("--timeout", type=_number(float, 1, 7 * 86_400), default=None,
                    help="seconds after which no new trial starts")
    tu.add_argument("--pruner", choices=["median", "halving", "none"], default="median")
    tu.add_argument("--seed", type=_number(int, 0, 2**31 - 1), default=0, help="the sampler's seed")
    tu.add_argument("--data-dir", help="where named datasets live ($LABELWISE_DATA)")

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
    if args.format == "hf":
        from labelwise.export import export_hf

        out = export_hf(args.run_dir, Path(args.out) if args.out else Path(args.run_dir) / "hf")
        print(f"exported {out} (load it with trust_remote_code=True)")
        return 0
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
    _check_listen(args.host, args.port)  # before loading the model, and with our exit codes
    serve(args.run_dir, args.host, args.port, cfg)
    return 0


def _check_listen(host: str, port: int) -> None:
    """Fail now, with one line, where the service could not listen on ``host:port``."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as err:
        raise UserError(f"--host '{host}': {err.strerror}; give an address of this machine, "
                        "e.g. 127.0.0.1 or 0.0.0.0") from None
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as err:
            raise OSError(err.errno, err.strerror, f"{host}:{port}") from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train; under ``torchrun`` every process runs this and rank 0 alone prints."""
    from labelwise import distributed, rundir
    from labelwise.components import load_config
    from labelwise.runner import train_run
    from labelwise.table import print_metrics

    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.dataset:
        overrides.append(f"data.dataset={args.dataset}")
    if args.resume:
        if not args.output:
            raise ValueError("--resume needs --output RUN_DIR (the run to continue)")
    saved = Path(args.output or ".") / rundir.CONFIG
    if args.resume and saved.is_file():  # (the model a preset chose is in it)
        cfg = load_config(saved, overrides)
    else:  # a new run, or one stopped before it wrote its config: the options given
        cfg = load_config(args.config, overrides + ([f"preset={args.preset}"] if args.preset else []))
    _, metrics, run_dir = train_run(cfg, args.output and Path(args.output), args.overwrite, args.resume)
    if not distributed.is_main():
        return 0
    print_metrics({k: v for k, v in metrics.items() if isinstance(v, dict)}, title=str(run_dir))
    print(f"run directory: {run_dir}  (train {metrics['train_seconds']:.1f}s)")
    return 0


def _exported_model(path: Path, overrides: list[str]) -> Any:
    """An ONNX export directory's classifier (None: ``path`` is a run directory)."""
    from labelwise.export import EXPORT_FILE

    if not (path / EXPORT_FILE).is_file():
        return None
    if overrides:
        raise ValueError(f"--set changes how a run directory decodes; '{path}' is an ONNX export: "
                         "set the keys on the run and export it again")
    from labelwise.export import OnnxPredictor

    return OnnxPredictor(path).classifier


def cmd_evaluate(args: argparse.Namespace) -> int:
    from labelwise.runner import evaluate_run

    path = Path(args.run_dir)
    metrics = evaluate_run(path, args.data and Path(args.data), args.split, args.data_dir, args.format,
                           args.overrides, clf=_exported_model(path, list(args.overrides)))
    print(json.dumps({k: round(v, 6) for k, v in metrics.items()}, indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from labelwise.estimator import TextClassifier
    from labelwise.report import build_report
    from labelwise.runner import labelled_examples

    run = Path(args.run_dir)
    clf = TextClassifier.load(run)
    examples = labelled_examples(clf.config_, args.data and Path(args.data), args.split, args.data_dir, args.format)
    out = Path(args.output) if args.output else run / "report.html"
    where = args.data or f"the {args.split} split of {clf.config_.data.dataset}"
    out.write_text(build_report(clf, run, examples, str(where)), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import itertools

    from labelwise.data.formats import iter_texts
    from labelwise.estimator import TextClassifier
    from labelwise.explain import explain, to_html

    clf = TextClassifier.load(args.run_dir)
    texts = list(itertools.islice(iter_texts(args.input), args.max_texts))
    records = explain(clf, texts, args.label or None)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if args.output:
        Path(args.output).write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    if args.html:
        Path(args.html).write_text(to_html(records, f"labelwise: why these labels ({Path(args.run_dir).name})"),
                                   encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from labelwise.predict import predict_file

    path = Path(args.run_dir)
    n = predict_file(path, Path(args.input), args.output and Path(args.output),
                     args.top_k, args.batch_size, args.resume, clf=_exported_model(path, []))
    print(f"labelled {n} documents", file=sys.stderr)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    try:
        import optuna  # noqa: F401
    except ImportError as err:
        raise UserError(f"tuning needs the 'tune' extra: pip install 'labelwise[tune]' ({err})") from None
    from labelwise.tuning import tune

    overrides = list(args.overrides) + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
    result = tune(args.config, overrides, args.space, args.output, args.trials, args.timeout,
                  args.pruner, args.seed, echo=lambda line: print(line, file=sys.stderr, flush=True))
    if result.best_value is None:
        print(f"{result.trials} trials, none complete; see {result.out_dir}/trials.csv")
        return 0
    shown = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
    print(f"best of {result.trials} trials: {result.best_value:.4f} with {shown}")
    print(f"train it: labelwise train -c {result.out_dir}/best.yaml")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from labelwise.components import PLUGIN_COMPONENTS, load_all
    from labelwise.registry import PLUGGABLE

    load_all()
    regs = PLUGGABLE
    kinds = [args.kind] if args.kind else [*regs, "datasets"]
    for kind in kinds:
        print(f"{kind}:")
        if kind == "datasets":
            from labelwise.data.catalog import CATALOG

            for name in sorted(CATALOG):
                print(f"  {name:<16} {CATALOG[name].description}")
            continue
        for name, doc in regs[kind].describe():
            plugin = PLUGIN_COMPONENTS.get((kind, name))
            print(f"  {name:<20} {doc}" + (f"  [plugin: {plugin}]" if plugin else ""))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from labelwise.data import catalog, fetch

    if args.action == "list":
        return cmd_list(argparse.Namespace(kind="datasets"))
    if not args.name:
        raise ValueError(f"'labelwise data {args.action}' needs a dataset name (see 'labelwise data list')")
    if args.action == "show" and catalog.is_folder_dataset(args.name, args.data_dir):
        print(json.dumps(catalog.describe(args.name, args.data_dir), indent=2))
        return 0
    catalog.get_dataset(args.name)  # an unknown name is the error, wherever the data is
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
            "serve": cmd_serve, "export": cmd_export, "tune": cmd_tune, "explain": cmd_explain, "report": cmd_report}


def _run_dir_arg(path: str) -> None:
    from labelwise import rundir

    p = Path(path)
    if not p.exists():
        raise UserError(f"run directory '{path}' does not exist; give the folder `labelwise train` wrote")
    if not rundir.is_run_dir(p):
        raise UserError(f"'{path}' is not a labelwise run directory (it has no run.json); give the "
                        "folder `labelwise train` wrote")


def _input_file_arg(option: str, path: str) -> None:
    p = Path(path)
    if path == "-" and option == "INPUT":
        return
    if not p.exists():
        raise UserError(f"{option} '{path}' does not exist; check the path")
    if p.is_dir():
        raise UserError(f"{option} '{path}' is a directory; give a file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_args(args: argparse.Namespace) -> None:
    """Check paths and combinations of options before any work (ranges are checked by the
    parser): each problem is one line naming the option and the fix."""
    cmd = args.command
    if cmd in ("evaluate", "predict", "serve", "export", "explain", "report"):
        _run_dir_arg(args.run_dir)
    if cmd == "explain":
        _input_file_arg("INPUT", args.input)
    if cmd == "evaluate" and args.data:
        _input_file_arg("--data", args.data)
    if getattr(args, "data_dir", None) and cmd != "data":
        if not Path(args.data_dir).is_dir():
            what = "is a file, not a folder" if Path(args.data_dir).exists() else "does not exist"
            raise UserError(f"--data-dir '{args.data_dir}' {what}; give the folder that holds one "
                            "sub-folder per dataset")
    if cmd == "tune":
        _input_file_arg("--space", args.space)
    if cmd == "train" and args.output and Path(args.output).exists() and not Path(args.output).is_dir():
        raise UserError(f"--output '{args.output}' is a file; a run directory is a folder. Choose another --output")
    if cmd == "train" and args.resume and args.overwrite:
        raise UserError("--resume continues a run and --overwrite replaces it: give one of them")
    if cmd == "export" and args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out '{args.out}' is a file; the export is a folder. Choose another --out")
    if cmd == "predict":
        _input_file_arg("INPUT", args.input)
        if args.resume and args.overwrite:
            raise UserError("--resume continues --output and --overwrite replaces it: give one of them")
        if args.output:
            out = Path(args.output)
            if _same_file(out, Path(args.input)):
                raise UserError(f"--output '{args.output}' is the input file; writing it would destroy "
                                "the input. Choose another --output")
            if out.is_dir():
                raise UserError(f"--output '{args.output}' is a directory; give a file name")
            if out.exists() and not (args.resume or args.overwrite) and out.stat().st_size > 0:
                raise UserError(f"--output '{args.output}' already exists; pass --resume to continue it, "
                                "--overwrite to replace it, or choose another --output")
        elif args.resume:
            raise UserError("--resume needs --output FILE (the file to continue)")


_OS_FIXES = {
    errno.ENOSPC: "the disk is full: free space or write elsewhere; completed checkpoints are kept",
    errno.EDQUOT: "the disk quota is used up: free space or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere (e.g. another --output)",
    errno.EACCES: "permission denied: check the permissions, or write elsewhere",
    errno.EPERM: "operation not permitted: check the permissions, or write elsewhere",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "it is a directory: give a file",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
    errno.EADDRINUSE: "another program listens there: choose another --port",
    errno.EADDRNOTAVAIL: "not an address of this machine: choose another --host",
}


def _os_error(err: OSError) -> tuple[str, int]:
    where = f"{err.filename}: " if err.filename else ""
    fix = _OS_FIXES.get(err.errno or 0)
    reason = err.strerror or str(err)
    code = EXIT_USAGE if isinstance(err, (FileNotFoundError, IsADirectoryError, NotADirectoryError)) \
        else EXIT_SYSTEM
    return f"{where}{reason}" + (f" ({fix})" if fix else ""), code


MAX_MESSAGE_CHARS = 4000


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` clauses and atomic writes
    clean up as after Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    prog = f"labelwise {args.command}"
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        previous = None
    try:
        _check_args(args)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; completed checkpoints are kept in the run directory", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print(f"{prog}: stopped by SIGTERM; completed checkpoints are kept in the run directory",
              file=sys.stderr)
        return EXIT_TERMINATED
    except OSError as err:
        message, code = _os_error(err)
        return _fail(prog, message, code)
    except (ValueError, TypeError) as err:
        return _fail(prog, str(err), getattr(err, "exit_code", EXIT_USAGE))
    except MemoryError:
        return _fail(prog, "out of memory: lower train.batch_size, tokenizer.max_length or "
                     "--batch-size, or use a machine with more memory", EXIT_SYSTEM)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _fail(prog: str, message: str, code: int) -> int:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + f" ... ({len(message) - MAX_MESSAGE_CHARS:,} more characters)"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
