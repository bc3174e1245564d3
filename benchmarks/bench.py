"""Benchmarks: training throughput (stock MindSpore, this project's two faster MindSpore variants, PyTorch),
deployed-model latency and throughput, preprocessing cost, and cold / no-op `dvc repro` times, against the
project's speed goals.

    make bench                                  # = .venv/bin/python benchmarks/bench.py
    python benchmarks/bench.py --repeats 5 --skip pipeline

Each measurement runs in its own process (no shared thread pools); training rounds are interleaved so drift
on a shared machine hits every contender alike. Prints a table of medians and writes benchmarks/results.json.
Needs the pipeline's data and deployed model (`make repro`) and, for PyTorch, benchmarks/requirements.txt.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
DATA_DIR = REPO / "data/mnist"
DEPLOYED = REPO / "models/deploy/lenet.onnx"
TRAIN_CONTENDERS = ("mindspore-stock", "mindspore-im2col", "mindspore-aot", "pytorch")
DEFAULT = "mindspore-aot"         # what train.conv: auto runs on the CPU


# --- workers: each prints one JSON document -------------------------------------------------------------------

def worker_train(contender: str, epochs: int) -> dict:
    if contender == "pytorch":
        import torch

        from benchmarks.torch_lenet import train_images_per_second
        from lenet5 import idx
        from lenet5.preprocess import prepare_batch

        images, labels = idx.read_split(DATA_DIR / "train", "train")
        rate = train_images_per_second(prepare_batch(images), labels, epochs, batch_size=32, seed=1)
        return {"images_per_second": rate, "torch": torch.__version__, "threads": torch.get_num_threads()}
    from lenet5.train import TrainParams, train

    conv = contender.split("-", 1)[1]
    summary = train(DATA_DIR, TrainParams(epochs=epochs, conv=conv)).summary
    return {"images_per_second": summary["images_per_second"], "accuracy": summary["accuracy"]}


def worker_eval(runs: int) -> dict:
    import numpy as np

    from lenet5 import idx
    from lenet5.backends import open_backend, run_batches
    from lenet5.evaluate import batch1_latency
    from lenet5.preprocess import prepare_batch

    test_images, _ = idx.read_split(DATA_DIR / "test", "test")
    images = np.resize(test_images, (10_000, *test_images.shape[1:]))      # a full MNIST test split's worth
    backend = open_backend(DEPLOYED)
    whole, preprocess, inference = [], [], []
    for _ in range(5):
        start = time.perf_counter()
        inputs = prepare_batch(images)
        middle = time.perf_counter()
        run_batches(backend, inputs, 256)
        end = time.perf_counter()
        whole.append(end - start)
        preprocess.append(middle - start)
        inference.append(end - middle)
    latency = batch1_latency(backend, inputs[0], runs)
    return {
        "whole_10k_evaluation_s": statistics.median(whole),
        "preprocess_us_per_image": 1e6 * statistics.median(preprocess) / len(images),
        "batched_images_per_second": len(images) / statistics.median(inference),
        **latency,
    }


def worker_pipeline(noop_repeats: int) -> dict:
    """Cold and no-op `dvc repro` of the default config in a copy holding what a fresh clone holds."""
    from workspace import command_env, tiny_workspace  # tests/workspace.py: the end-to-end tests' copy

    env = command_env()
    with tempfile.TemporaryDirectory(prefix="bench-repro-") as tmp:
        tiny_workspace(Path(tmp), params={})                  # no overrides: the default config

        def repro() -> float:
            start = time.perf_counter()
            subprocess.run(["dvc", "repro", "-q"], cwd=tmp, check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            return time.perf_counter() - start

        cold = repro()
        noop = [repro() for _ in range(noop_repeats)]
        accuracy = json.loads((Path(tmp) / "metrics/evaluate.json").read_text())["accuracy"]
    return {"cold_repro_s": cold, "noop_repro_s": statistics.median(noop), "accuracy": accuracy}


# --- orchestration ---------------------------------------------------------------------------------------------

def run_worker(*args: str) -> dict:
    env = {**os.environ, "GLOG_v": "3"}
    result = subprocess.run([sys.executable, __file__, "--worker", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import mindspore
    import onnxruntime

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "mindspore": mindspore.__version__, "onnxruntime": onnxruntime.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="training rounds (median taken)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per training round (default data)")
    parser.add_argument("--latency-runs", type=int, default=2000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["train", "eval", "pipeline"])
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results.json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, *rest = args.worker
        result = {"train": lambda: worker_train(rest[0], int(rest[1])), "eval": lambda: worker_eval(int(rest[0])),
                  "pipeline": lambda: worker_pipeline(int(rest[0]))}[kind]()
        print(json.dumps(result))
        return

    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "settings": vars(args) | {
        "output": str(args.output), "batch_size": 32, "data": "mnist-5k train split (4,000 images)"}}
    rows = []
    if "train" not in args.skip:
        rounds = {c: [] for c in TRAIN_CONTENDERS}
        for r in range(args.repeats):
            for contender in TRAIN_CONTENDERS:
                rounds[contender].append(run_worker("train", contender, str(args.epochs)))
                print(f"round {r + 1}/{args.repeats} {contender}: "
                      f"{rounds[contender][-1]['images_per_second']:.0f} images/s", file=sys.stderr)
        medians = {c: statistics.median(x["images_per_second"] for x in runs) for c, runs in rounds.items()}
        results["train"] = {c: {"median_images_per_second": medians[c], "rounds": runs} for c, runs in rounds.items()}

        # ratios round by round (each round ran the contenders back to back), then their median
        for variant in ("aot", "im2col"):
            for other, reference in (("pytorch", "pytorch"), ("stock", "mindspore-stock")):
                per_round = [x["images_per_second"] / y["images_per_second"]
                             for x, y in zip(rounds[f"mindspore-{variant}"], rounds[reference])]
                results["train"][f"{variant}_vs_{other}"] = statistics.median(per_round)
                results["train"][f"{variant}_vs_{other}_rounds"] = per_round
        for c in TRAIN_CONTENDERS:
            goal = "(goal >= 6,000)" if c == DEFAULT else ""
            rows.append((f"train {c}, batch 32", f"{medians[c]:,.0f} images/s", goal))
        rounds_text = ", ".join(f"{r:.2f}" for r in results["train"]["aot_vs_pytorch_rounds"])
        rows.append(("  aot (default) / PyTorch, median of rounds", f"{results['train']['aot_vs_pytorch']:.2f}x",
                     f"(goal >= 0.9x; rounds {rounds_text})"))
        rows.append(("  aot (default) / stock", f"{results['train']['aot_vs_stock']:.1f}x", ""))
        rows.append(("  im2col / PyTorch", f"{results['train']['im2col_vs_pytorch']:.2f}x", ""))
    if "eval" not in args.skip:
        ev = results["eval"] = run_worker("eval", str(args.latency_runs))
        p50, p99 = ev["batch1_p50_ms"] * 1e3, ev["batch1_p99_ms"] * 1e3
        rows += [("deployed batch-1 latency p50 / p99", f"{p50:.0f} / {p99:.0f} us", ""),
                 ("deployed batched throughput (batch 256)", f"{ev['batched_images_per_second']:,.0f} images/s", ""),
                 ("preprocessing per image", f"{ev['preprocess_us_per_image']:.1f} us", ""),
                 ("whole 10,000-image evaluation", f"{ev['whole_10k_evaluation_s']:.2f} s", "(goal < 2 s)")]
    if "pipeline" not in args.skip:
        pipe = results["pipeline"] = run_worker("pipeline", "3")
        rows += [("cold dvc repro (default config)", f"{pipe['cold_repro_s']:.1f} s", "(goal < 60 s)"),
                 ("no-op dvc repro", f"{pipe['noop_repro_s']:.2f} s", "(goal < 3 s)")]

    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'measurement':<{width}}  {'median':<20}\n{'-' * width}  {'-' * 20}")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<20}  {goal}")
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
