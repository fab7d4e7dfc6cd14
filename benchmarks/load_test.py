"""The HTTP service under load, on loopback: ``labelwise serve RUN_DIR`` started as its own
process, then

1. one client sending one short text at a time (``--single`` requests): p50 / p99 latency;
2. ``--clients`` concurrent clients (threads with keep-alive connections) sending one short
   test text each per request for ``--seconds``: throughput, p50 / p99 latency, errors,
   and the server's resident memory sampled every second (flat means no leak);
3. beside them, ``--hostile`` clients (4 by default), one of each kind: empty and blank
   texts; oversized bodies and texts; malformed bodies (broken JSON, nesting 100,000 deep,
   a 5,000-digit integer, a lone surrogate); and a slow client sending its headers a byte
   every half second (the server cuts it off after ``--header-timeout``).

Goals: zero errors for the good clients whatever the hostile ones send, a 4xx (or a closed
connection for the slow one) for every hostile request, memory flat, single-text p50 under
15 ms on 2 cores. Writes ``benchmarks/results/serve/load.json`` and ``load.png``. A missing
run directory is trained first (the transformer of ``configs/bench/systems``, seed 13).

    python benchmarks/load_test.py runs/compare/labelwise-sst2-transformer-s13
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from labelwise.profiling import device_name

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Client:
    """One keep-alive connection; ``post`` returns (status, seconds)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, texts: list[str]) -> tuple[int, float]:
        body = json.dumps({"texts": texts})
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            status = -1
        return status, time.perf_counter() - t0


def _texts(run_dir: Path, n: int) -> list[str]:
    """Short texts: the run's own test split where it names a dataset, else fixed ones."""
    cfg_file = run_dir / "config.yaml"
    try:
        import yaml

        name = (yaml.safe_load(cfg_file.read_text()).get("data") or {}).get("dataset")
        data = Path(os.environ.get("LABELWISE_DATA", ROOT.parent / "shared" / "data"))
        with gzip.open(data / name / "test.jsonl.gz", "rt", encoding="utf-8") as fh:
            rows = [json.loads(line)["text"] for _, line in zip(range(n), fh, strict=False)]
        return rows
    except Exception:  # noqa: BLE001 - any failure: fall back to fixed texts
        return [f"a short review number {i}, quite good overall" for i in range(n)]


HEADER_TIMEOUT_S = 2.0


def _hostile_bodies(kind: str) -> list[bytes]:
    """What a hostile client of ``kind`` sends, in turn."""
    if kind == "empty":
        return [b'{"texts": [""]}', b'{"texts": ["  \\t "]}', b'{"texts": ["fine", ""]}']
    if kind == "oversized":
        return [json.dumps({"texts": ["x" * 200_000]}).encode(),  # over --max-text-chars
                json.dumps({"texts": ["word"] * 300}).encode(),  # over --max-texts
                b'{"texts": ["' + b"y" * (9 << 20) + b'"]}']  # over --max-body-bytes
    if kind == "malformed":
        return [b'{"texts": ["a"', b"[" * 100_000 + b"]" * 100_000,
                b'{"texts": ["a"], "top_k": ' + b"7" * 5000 + b"}",
                b'{"texts": ["a\\ud800"]}', b"\xff\xfe", b'{"texts": "one"}', b"null"]
    raise ValueError(kind)


def _hostile(kind: str, port: int, stop: threading.Event, out: dict[str, int]) -> None:
    """Send ``kind``'s requests until ``stop``; count the answers by status."""
    if kind == "slow":
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    for byte in head:
                        sock.sendall(bytes([byte]))
                        if stop.wait(0.5):
                            break
                    else:
                        out["never cut off"] = out.get("never cut off", 0) + 1
            except OSError:  # the server closed the connection: what should happen
                out["cut off"] = out.get("cut off", 0) + 1
        return
    bodies = _hostile_bodies(kind)
    i = 0
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/predict", bodies[i % len(bodies)], {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            key = str(resp.status)
        except (OSError, http.client.HTTPException) as err:
            key = f"connection error ({type(err).__name__})"
        finally:
            conn.close()
        out[key] = out.get(key, 0) + 1
        i += 1


def _train(run_dir: Path) -> None:
    files = ["configs/bench/datasets/sst2.yaml", "configs/bench/systems/transformer.yaml"]
    cmd = [sys.executable, "-m", "labelwise", "train", *[a for f in files for a in ("-c", str(ROOT / f))],
           "--set", "train.seed=13", "-o", str(run_dir)]
    print("training the run first:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--single", type=int, default=300, help="requests of the one-client phase")
    p.add_argument("--hostile", type=int, default=4, choices=[0, 4],
                   help="hostile clients beside the good ones: 4 (one of each kind) or 0")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/serve/load.json"))
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        _train(run_dir)
    texts = _texts(run_dir, 512)
    port = _free_port()
    cmd = [sys.executable, "-m", "labelwise.cli", "serve", str(run_dir), "--port", str(port),
           "--header-timeout", str(HEADER_TIMEOUT_S)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)

        one = Client(port)
        for t in texts[:20]:  # warm-up
            one.post([t])
        single = [one.post([texts[i % len(texts)]]) for i in range(args.single)]
        single_ms = np.array([s for _, s in single]) * 1000
        single_errors = sum(code != 200 for code, _ in single)
        print(f"one client: p50 {np.percentile(single_ms, 50):.1f} ms, p99 {np.percentile(single_ms, 99):.1f} ms, "
              f"errors {single_errors}", flush=True)

        results: list[list[tuple[int, float, float]]] = [[] for _ in range(args.clients)]
        stop = threading.Event()

        def worker(i: int) -> None:
            client = Client(port)
            j = i
            while not stop.is_set():
                code, sec = client.post([texts[j % len(texts)]])
                results[i].append((code, sec, time.perf_counter()))
                j += args.clients

        memory: list[tuple[float, float]] = []
        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.clients)]
        kinds = ["empty", "oversized", "malformed", "slow"][: args.hostile]
        hostile: dict[str, dict[str, int]] = {k: {} for k in kinds}
        threads += [threading.Thread(target=_hostile, args=(k, port, stop, hostile[k]), daemon=True)
                    for k in kinds]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        while time.perf_counter() - t0 < args.seconds:
            memory.append((time.perf_counter() - t0, _rss_mib(server.pid)))
            time.sleep(1.0)
        stop.set()
        for th in threads:
            th.join(timeout=60)
        elapsed = time.perf_counter() - t0
        flat = [r for rows in results for r in rows]
        lat = np.array([s for _, s, _ in flat]) * 1000
        errors = sum(code != 200 for code, _, _ in flat)
        mem = np.array([m for _, m in memory])
        half = len(mem) // 2
        record = {
            "dataset": "sst2" if "sst2" in run_dir.name else run_dir.name,
            "system": "labelwise:serve",
            "run_dir": run_dir.name,
            "device": f"{device_name()} (server and clients on the same machine)",
            "single_client": {"requests": args.single, "p50_ms": float(np.percentile(single_ms, 50)),
                              "p99_ms": float(np.percentile(single_ms, 99)), "errors": int(single_errors)},
            "load": {"clients": args.clients, "seconds": elapsed, "requests": len(flat),
                     "throughput_rps": len(flat) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
                     "p99_ms": float(np.percentile(lat, 99)), "errors": int(errors)},
            "hostile": {"clients": len(kinds), "header_timeout_s": HEADER_TIMEOUT_S, "answers": hostile},
            "server_rss_mib": {"first": float(mem[0]), "last": float(mem[-1]), "max": float(mem.max()),
                               "mean_first_half": float(mem[:half].mean()),
                               "mean_second_half": float(mem[half:].mean())},
            "command": "python benchmarks/load_test.py " + str(run_dir.relative_to(ROOT) if run_dir.is_absolute()
                                                               and ROOT in run_dir.parents else run_dir),
            "date": time.strftime("%Y-%m-%d"),
        }
        print(json.dumps(record["load"]), json.dumps(record["hostile"]), json.dumps(record["server_rss_mib"]),
              flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
        _plot(Path(args.out).with_suffix(".png"), flat, t0, memory)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


def _plot(path: Path, flat: list[tuple[int, float, float]], t0: float, memory: list[tuple[float, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    ends = np.array([end - t0 for _, _, end in flat])
    lat = np.array([s * 1000 for _, s, _ in flat])
    bins = np.arange(0, max(ends.max(), 1) + 1, 1.0)
    idx = np.digitize(ends, bins)
    p50 = [np.percentile(lat[idx == i], 50) if np.any(idx == i) else np.nan for i in range(1, len(bins))]
    p99 = [np.percentile(lat[idx == i], 99) if np.any(idx == i) else np.nan for i in range(1, len(bins))]
    a.plot(bins[1:], p50, label="p50")
    a.plot(bins[1:], p99, label="p99")
    a.set_xlabel("seconds")
    a.set_ylabel("latency (ms)")
    a.set_title("latency per second of the load phase")
    a.legend()
    b.plot([t for t, _ in memory], [m for _, m in memory])
    b.set_xlabel("seconds")
    b.set_ylabel("server RSS (MiB)")
    b.set_title("server memory")
    b.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
