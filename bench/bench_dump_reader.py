"""Speed of ionsitu's LAMMPS text-dump reader next to a plain numpy parse of the same file.

    python bench/bench_dump_reader.py [--frames 2000] [--cells 10] [--repeats 3] [--file dump.lammpstrj]

Writes (once, or reuses ``--file``) a dump of a 4·cells³-atom LJ melt with LAMMPS
(``dump custom N id type xu yu zu``, sorted by id, LAMMPS's default number format), then
times (CPU time of this process, so that other load on the machine does not count), interleaved
and repeated (the fastest of each is kept), with the file in the page cache:

- ``numpy loadtxt``: ``np.loadtxt(fh, max_rows=natoms)`` per frame after skipping the
  9 header lines (the layout known in advance, nothing checked);
- ``numpy fromstring``: the whole file read at once, each frame's atom lines parsed by one
  ``np.fromstring`` call (the fastest plain numpy parse found);
- ``ionsitu iter_lammps_dump``: every frame as ionsitu uses it (headers and box parsed,
  ids checked and sorted, unwrapped positions);
- ``ionsitu msd_from_trajectory``: the reader plus the MSD (default block/levels).

Prints the times and the ratio of the reader to the faster numpy parse.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import ionsitu
from ionsitu.io.trajectory import iter_lammps_dump, msd_from_trajectory

SETUP = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.3 12345
mass * 1.0
velocity all create 3.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0 2.5
neighbor 0.3 bin
fix 1 all nve
thermo 0
dump d all custom {every} {path} id type xu yu zu
dump_modify d sort id
run {steps}
"""
EVERY = 5
HEADER_LINES = 9


def write_dump(path: Path, frames: int, cells: int):
    lmp = ionsitu.lammps_instance()
    lmp.commands_string(SETUP.format(cells=cells, every=EVERY, path=path, steps=(frames - 1) * EVERY))
    lmp.close()


def numpy_loadtxt(path, natoms, nframes):
    with open(path) as fh:
        for _ in range(nframes):
            for _ in range(HEADER_LINES):
                fh.readline()
            a = np.loadtxt(fh, max_rows=natoms)
    return a


def numpy_fromstring(path, natoms, nframes):
    data = Path(path).read_bytes()
    pos = 0
    for _ in range(nframes):
        start = data.index(b"\n", data.index(b"ITEM: ATOMS", pos)) + 1
        end = data.find(b"ITEM:", start)
        end = len(data) if end < 0 else end
        a = np.fromstring(data[start:end], sep=" ").reshape(natoms, -1)
        pos = end
    return a


def ionsitu_reader(path, natoms, nframes):
    n = 0
    for fr in iter_lammps_dump(path):
        n += 1
    assert n == nframes and fr.natoms == natoms
    return fr.positions


def ionsitu_msd(path, natoms, nframes):
    return msd_from_trajectory(path, species=2, timestep=0.005, units="lj", masses="equal")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--cells", type=int, default=10, help="fcc cells per side: 4 cells^3 atoms (10: 4000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--file", help="dump to use (written there first if missing)")
    ap.add_argument("--no-msd", action="store_true", help="skip the timing of msd_from_trajectory")
    args = ap.parse_args()

    tmp = None
    if args.file:
        path = Path(args.file)
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "dump.lammpstrj"
    if not path.exists():
        t0 = time.perf_counter()
        write_dump(path, args.frames, args.cells)
        print(f"wrote {path} with LAMMPS in {time.perf_counter() - t0:.1f} s")
    first = next(iter_lammps_dump(path))
    natoms = first.natoms
    nframes = Path(path).read_bytes().count(b"ITEM: TIMESTEP")
    size = path.stat().st_size
    print(f"{nframes} frames x {natoms} atoms, {size / 2**20:.0f} MiB ({size / (nframes * natoms):.1f} B/atom line)")

    readers = {"numpy loadtxt": numpy_loadtxt, "numpy fromstring": numpy_fromstring,
               "ionsitu iter_lammps_dump": ionsitu_reader}
    if not args.no_msd:
        readers["ionsitu msd_from_trajectory"] = ionsitu_msd
    ref = numpy_fromstring(path, natoms, nframes)
    np.testing.assert_array_equal(ionsitu_reader(path, natoms, nframes), ref[np.argsort(ref[:, 0]), 2:5])
    best = {name: np.inf for name in readers}
    for _ in range(args.repeats):              # interleaved: drifts of machine load hit all alike
        for name, fn in readers.items():
            t0 = time.process_time()
            fn(path, natoms, nframes)
            best[name] = min(best[name], time.process_time() - t0)
    plain = min(best["numpy loadtxt"], best["numpy fromstring"])
    print(f"best of {args.repeats} interleaved runs (file in the page cache), CPU time")
    print(f"{'reader':30s} {'CPU (s)':>9s} {'vs numpy':>9s} {'atom lines/s':>13s}")
    for name, t in best.items():
        print(f"{name:30s} {t:9.2f} {t / plain:9.2f} {nframes * natoms / t:13.3g}")
    print(f"ionsitu dump reader / fastest plain numpy parse: {best['ionsitu iter_lammps_dump'] / plain:.2f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
