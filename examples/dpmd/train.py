#!/usr/bin/env python3
"""Train the two shipped tiny DeePMD models (TensorFlow backend) from train.json.

    python make_data.py      # writes data/train, data/valid and data.fwli
    python train.py          # trains run1/, run2/ -> model1.pb, model2.pb, runs dp test

The two models differ only in their random seeds (1 and 2), so that
``pair_style deepmd model1.pb model2.pb out_freq N out_file model_devi.out`` reports a
meaningful model deviation. Needs ``deepmd-kit[cpu]`` (its ``dp`` command). Threads are
limited to OMP_NUM_THREADS (default 1) for both TensorFlow pools.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _dp() -> str:
    cand = Path(sys.executable).parent / "dp"
    return str(cand) if cand.exists() else (shutil.which("dp") or "dp")


def _run(cmd, cwd, env, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=f, stderr=subprocess.STDOUT)


def train_one(seed: int, steps: int | None, env) -> float:
    run = HERE / f"run{seed}"
    if run.exists():
        shutil.rmtree(run)
    run.mkdir()
    cfg = json.loads((HERE / "train.json").read_text())
    cfg["model"]["descriptor"]["seed"] = seed
    cfg["model"]["fitting_net"]["seed"] = seed
    cfg["training"]["seed"] = seed
    if steps:
        cfg["training"]["numb_steps"] = steps
        cfg["training"]["save_freq"] = steps
        cfg["training"]["disp_freq"] = min(steps, cfg["training"]["disp_freq"])
    (run / "input.json").write_text(json.dumps(cfg, indent=2))
    log = run / "train.log"
    t0 = time.time()
    _run([_dp(), "--tf", "train", "input.json", "--skip-neighbor-stat"], run, env, log)
    dt = time.time() - t0
    _run([_dp(), "--tf", "freeze", "-o", f"../model{seed}.pb"], run, env, log)
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="override numb_steps")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    env = dict(os.environ)
    nt = env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("DP_INTRA_OP_PARALLELISM_THREADS", nt)
    env.setdefault("DP_INTER_OP_PARALLELISM_THREADS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for seed in args.seeds:
        dt = train_one(seed, args.steps, env)
        print(f"model{seed}.pb: trained in {dt:.0f} s", flush=True)
        out = HERE / f"run{seed}" / "test.log"
        with open(out, "w") as f:
            subprocess.run([_dp(), "--tf", "test", "-m", f"model{seed}.pb", "-s", "data/valid"],
                           cwd=HERE, env=env, check=True, stdout=f, stderr=subprocess.STDOUT)
        lines = [ln.split("DEEPMD INFO", 1)[-1].strip() for ln in out.read_text().splitlines()]
        start = max((i for i, ln in enumerate(lines) if "weighted average" in ln), default=0)
        summary = [ln for ln in lines[start:] if "RMSE" in ln]
        print("  dp test on data/valid (weighted average):", *summary, sep="\n    ", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
