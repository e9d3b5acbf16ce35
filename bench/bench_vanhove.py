"""Cost of fix vanhove against plain MD: the same LJ liquid (4000 atoms, lj/cut 2.5, NVE)
run without the fix, with G_s only, and with G_s + G_d (4 lags, origins every 100 steps),
on one rank; prints the loop time of each and the ratio to plain MD.

Usage: .venv/bin/python bench/bench_vanhove.py [steps (default 2000)]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

SCRIPT = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 10 0 10 0 10
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 1.5 87287 loop geom
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
fix integrate all nve
{fix}
thermo 1000
run {steps}
"""

CASES = {
    "plain MD": "",
    "G_s (Nevery 10, 7 levels, 100 bins)": "fix vh all vanhove 10 rmax 5.0 bins 100",
    "G_s + G_d (lags 0 100 200 500, origins 100)": "fix vh all vanhove 10 rmax 5.0 bins 100 lags 0 100 200 500 origins 100",
}


def loop_time(fix: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.lmp").write_text(SCRIPT.format(fix=fix, steps=STEPS))
        subprocess.run([str(BIN / "lmp"), "-in", "in.lmp", "-log", "log.lammps", "-screen", "none", "-nocite"],
                       cwd=tmp, check=True, env={"OMP_NUM_THREADS": "1", "PATH": str(BIN)})
        log = (Path(tmp) / "log.lammps").read_text()
    return float(re.search(r"Loop time of ([0-9.eE+-]+)", log).group(1))


base = None
for name, fix in CASES.items():
    t = loop_time(fix)
    base = base or t
    print(f"{name:48s} {t:8.3f} s  x{t / base:.3f}")
