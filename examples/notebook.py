"""The result objects end to end, as in a notebook (each block is a cell).

    mpirun -np 2 ionsitu campaign run examples/quick/campaign.toml     # about a minute
    python examples/notebook.py examples/quick/campaign.toml [--figures DIR]

Loads the campaign, prints the transport of every temperature, the Arrhenius fits, the hops and
the occupancy sites, writes their tables as CSV and their figures as PNG into ``--figures``
(default: ``notebook/`` in the campaign's output folder) and the merged density of the lowest
temperature as a cube file. In Jupyter, the objects show themselves as tables
(``_repr_html_``) and ``.plot()`` draws into the cell.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ionsitu  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("campaign", help="campaign TOML file (or the folder holding campaign.toml)")
    ap.add_argument("--figures", help="folder for the CSV tables and PNG figures")
    args = ap.parse_args(argv)

    # %% the campaign's results, per temperature
    camp = ionsitu.load_campaign(args.campaign)
    out = Path(args.figures) if args.figures else camp.campaign.output / "notebook"
    out.mkdir(parents=True, exist_ok=True)
    print(repr(camp))
    table = camp.to_dataframe()
    print(table.to_string())
    table.to_csv(out / "transport.csv")

    # %% one temperature: MSD, D*, D_sigma, Haven ratio, conductivity (values rounded to their errors)
    for T, t in camp.transport.items():
        print(f"T = {T:g}: D* = {t.D}, D_sigma = {t.D_collective}, H_R = {t.haven_ratio}, sigma = {t.conductivity}")
    T0 = min(camp.transport)
    t = camp.transport[T0]
    t.plot().savefig(out / f"msd_T{T0:g}.png")
    t.to_dataframe().to_csv(out / f"msd_T{T0:g}.csv", index=False)

    # %% Arrhenius across temperatures
    for q in ("tracer", "collective", "sigma"):
        try:
            a = camp.arrhenius(q)
        except ValueError as exc:  # e.g. fewer than 2 resolved temperatures
            print(exc)
            continue
        print(f"Arrhenius {q}: Ea = {a.Ea}, prefactor = {a.prefactor}")
        a.plot().savefig(out / f"arrhenius_{q}.png")

    # %% hops and occupancy (when the campaign has those analyses)
    for T, h in camp.hops.items():
        print(f"T = {T:g}: {h.n_hops} hops, rate {h.hop_rate}, backjumps {h.backjump_fraction}, "
              f"correlated {h.correlated_fraction}")
    for T, o in camp.occupancy.items():
        print(f"T = {T:g}: {o.n_sites} sites on a {'x'.join(map(str, o.counts.shape))} grid")
    if camp.occupancy:
        o = camp.occupancy[min(camp.occupancy)]
        o.plot().savefig(out / "occupancy.png")
        o.to_dataframe().to_csv(out / "sites.csv", index=False)
        o.write_cube(out / "occupancy.cube")
    print(f"tables and figures in {out}")


if __name__ == "__main__":
    main()
