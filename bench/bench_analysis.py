"""Time of the Python analysis commands, side by side in one run.

    python bench/bench_analysis.py [--hops 100000] [--baseline main] [--repeats 1]

Wall and CPU seconds (user + system, of the child; the steadier figure on a shared machine),
best of ``--repeats``, each as a fresh ``ionsitu`` process (what a user waits for):

- ``ionsitu campaign report examples/quick/campaign.toml`` on the quick example's finished
  campaign (run ``mpirun -np 2 ionsitu campaign run examples/quick/campaign.toml`` first;
  skipped with a note otherwise);
- ``ionsitu hops`` on a generated site-mode event log of ``--hops`` hops (random walk of
  1000 ions on the octahedral sites of a 10^3-cell fcc crystal, nearest-neighbour hops and
  1 in 7 a jump of length a, geometric waiting times; written in the format of
  ``fix hop/events`` with its site file), with ``--json FILE``;
- ``ionsitu info``.

With ``--baseline REF`` the same commands also run with the Python package of git revision
REF (``git archive`` of ``python/ionsitu`` into a temporary folder, with the compiled
modules of the installed package copied in) and the outputs are compared: the report JSON
(its ``generated`` time stamp left out) and the hops JSON must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "examples" / "quick" / "campaign.toml"


def fcc_octahedral_sites(n_cells: int):
    """Fractional positions of the octahedral interstitials of an n^3-cell fcc crystal."""
    base = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    ijk = np.stack(np.meshgrid(*[np.arange(n_cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    return ((ijk + base).reshape(-1, 3) / n_cells) % 1.0


def make_hop_log(folder: Path, n_hops: int, n_cells: int = 10, n_ions: int = 1000, a: float = 1.5874,
                 nevery: int = 10, dt: float = 0.002, mean_wait: int = 40, seed: int = 1) -> Path:
    """Write hops.txt (site mode) and sites.txt into ``folder``; return the log's path."""
    from ionsitu.io.sites import Sites, write_sites

    rng = np.random.default_rng(seed)
    frac = fcc_octahedral_sites(n_cells)
    L = n_cells * a
    cell = np.eye(3) * L
    ns = len(frac)
    # neighbour tables: the 12 sites at a/sqrt 2 and the 6 at a (periodic k-d tree)
    from scipy.spatial import cKDTree

    idx = cKDTree(frac * L, boxsize=L).query(frac * L, k=19)[1]
    near, far = idx[:, 1:13], idx[:, 13:19]
    per_ion = -(-n_hops // n_ions)
    site = rng.choice(ns, n_ions, replace=False)
    arrival = np.zeros(n_ions, np.int64)       # censored first residence: arrival unknown
    step = np.zeros(n_ions, np.int64)
    rows = []
    for k in range(per_ion):
        step = step + nevery * (1 + rng.geometric(1.0 / mean_wait, n_ions))
        long = rng.random(n_ions) < 1 / 7
        to = np.where(long, far[site, rng.integers(0, 6, n_ions)], near[site, rng.integers(0, 12, n_ions)])
        d = frac[to] - frac[site]
        d -= np.rint(d)
        rows.append(np.column_stack([step, np.arange(1, n_ions + 1), site, to, frac[site] * L, frac[to] * L, d * L,
                                     arrival, step - nevery, np.full(n_ions, 1 if k == 0 else 0)]))
        arrival, site = step, to
    r = np.concatenate(rows)
    r = r[np.lexsort((r[:, 1], r[:, 0]))][:n_hops]
    step_last = int(r[:, 0].max()) + 10 * nevery
    write_sites(folder / "sites.txt", Sites(frac=frac, cart=frac * L, cell=cell, origin=np.zeros(3), units="lj"))
    meta = {"format": "ionsitu-hops", "version": 1, "producer": "bench_analysis", "fix_id": "hops", "group": "mobile",
            "mode": "sites", "site_file": "sites.txt", "nsites": ns, "r_in": 0.3, "r_out": 0.45, "residence": 3,
            "nevery": nevery, "dt": dt, "units": "lj", "natoms": n_ions, "nsamples": step_last // nevery + 1,
            "step_first": 0, "step_last": step_last, "nhops": len(r), "nhopped": int(len(np.unique(r[:, 1]))),
            "cell": cell.ravel().tolist(), "origin": [0.0, 0.0, 0.0]}
    path = folder / "hops.txt"
    ints = "%d %d %d %d "
    fmt = ints + " ".join(["%.17g"] * 9) + " %d %d %d"
    with open(path, "w") as fh:
        fh.write("# ionsitu-hops 1\n# meta " + json.dumps(meta) + "\n# columns " + " ".join(
            "step atom_id from_site to_site fx fy fz tx ty tz dx dy dz origin_arrival_step origin_last_step "
            "flags".split()) + "\n")
        np.savetxt(fh, r, fmt=fmt)
    return path


def baseline_tree(ref: str, folder: Path) -> Path:
    """python/ionsitu of git revision ``ref`` with the installed package's compiled modules."""
    import ionsitu

    arch = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "python/ionsitu"], check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=arch, check=True)
    pkg = folder / "python" / "ionsitu"
    for so in Path(ionsitu.__file__).parent.glob("*.so"):
        shutil.copy2(so, pkg / so.name)
    return folder / "python"


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, pythonpath=None, cwd=None):
    """(wall seconds, CPU seconds, completed process) of a fresh `ionsitu ...` process."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    argv = [sys.executable, "-c", "import sys; from ionsitu.cli import main; sys.exit(main())", *cmd]
    c0, t0 = _child_cpu(), time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _child_cpu() - c0
    if p.returncode != 0:
        raise RuntimeError(f"ionsitu {' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return wall, cpu, p


def _report_json(out_dir: Path) -> dict:
    d = json.loads((out_dir / "report.json").read_text())
    d.pop("generated", None)
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hops", type=int, default=100_000, help="hops in the generated event log")
    ap.add_argument("--baseline", metavar="REF", help="also time the python package of this git revision")
    ap.add_argument("--repeats", type=int, default=1, help="best of this many runs per command")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_analysis_") as tmp:
        tmp = Path(tmp)
        (tmp / "hops").mkdir()
        log = make_hop_log(tmp / "hops", args.hops)
        variants = [("this tree", None)]
        if args.baseline:
            (tmp / "base").mkdir()
            variants.insert(0, (args.baseline, baseline_tree(args.baseline, tmp / "base")))
        out_dir = None
        if QUICK.exists():
            import tomllib

            out_dir = QUICK.parent / tomllib.loads(QUICK.read_text())["campaign"]["output"]
        have_campaign = out_dir is not None and any(out_dir.glob("T*/r*/msd.dat"))
        commands = {
            "campaign report (quick example)": ["campaign", "report", str(QUICK)] if have_campaign else None,
            f"hops ({args.hops} hops)": ["hops", str(log), "--temperature", "0.6", "--attempt-frequency", "10",
                                         "--json", "HOPSJSON"],
            "info": ["info"],
        }
        times, outputs = {}, {}
        for name, cmd in commands.items():
            if cmd is None:
                continue
            for label, pp in variants:
                best = (np.inf, np.inf)
                for _ in range(args.repeats):
                    js = tmp / f"hops_{len(outputs)}.json"
                    c = [js.as_posix() if x == "HOPSJSON" else x for x in cmd]
                    wall, cpu, _p = timed(c, pp, cwd=ROOT)
                    best = (min(best[0], wall), min(best[1], cpu))
                    if cmd[0] == "campaign":
                        outputs[(name, label)] = _report_json(out_dir)
                    elif cmd[0] == "hops":
                        outputs[(name, label)] = json.loads(js.read_text())[str(log)]
                times[(name, label)] = best
        labels = [lab for lab, _ in variants]
        head = "".join(f"{lab + ' wall':>16}{'cpu':>8}" for lab in labels)
        print(f"{'command (seconds)':<34}{head}" + (f"{'ratio cpu':>11}{'same output':>13}" if len(labels) == 2 else ""))
        for name, cmd in commands.items():
            if cmd is None:
                print(f"{name:<34}  skipped: no finished campaign in {out_dir} (run the README's main command)")
                continue
            row = f"{name:<34}" + "".join(f"{times[(name, lab)][0]:>16.2f}{times[(name, lab)][1]:>8.2f}"
                                          for lab in labels)
            if len(labels) == 2:
                row += f"{times[(name, labels[0])][1] / times[(name, labels[1])][1]:>11.1f}"
                if (name, labels[0]) in outputs:
                    row += f"{str(outputs[(name, labels[0])] == outputs[(name, labels[1])]):>13}"
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
