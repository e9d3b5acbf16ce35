"""``ionsitu campaign``: run, resume, check and report temperature x replica campaigns.

    mpirun -np P ionsitu campaign run campaign.toml [--ranks-per-run R]
    ionsitu campaign report campaign.toml
    ionsitu campaign check campaign.toml      # validate only (also in LAMMPS)
    ionsitu campaign status campaign.toml     # state of every member
    ionsitu campaign keys                     # the documented keys of campaign.toml

Exit status of ``run``: 0 when every member completed, 1 when some failed (or are still
unfinished), 2 for an invalid campaign file.
"""

from __future__ import annotations

import json
import sys


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run (or resume) every member; under mpirun: in groups of ranks")
    r.add_argument("config", help="campaign TOML file")
    r.add_argument("--ranks-per-run", type=int, default=None, help="MPI ranks per LAMMPS instance")
    r.add_argument("--retry-failed", action="store_true", help="run failed members again, from scratch")
    r.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    r.add_argument("--progress-every", type=float, default=None, help="seconds between progress lines")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--no-check", action="store_true",
                   help="skip the trial build of the system and potential in LAMMPS before the runs")
    p = sub.add_parser("report", help="write report.json and report.html from the finished members")
    p.add_argument("config")
    p.add_argument("--out", default=None, help="folder of the report (default: the campaign output)")
    p.add_argument("--print", action="store_true", help="also print the JSON")
    c = sub.add_parser("check", help="validate the campaign file (all errors, with their keys)")
    c.add_argument("config")
    c.add_argument("--no-lammps", action="store_true", help="only the static checks")
    s = sub.add_parser("status", help="state of every member")
    s.add_argument("config")
    sub.add_parser("keys", help="print the documented keys of campaign.toml")


def _load(path, check_lammps, rank=0, comm=None):
    """Campaign or None (errors printed on rank 0); the LAMMPS check runs on rank 0 only."""
    from .campaign import Campaign, ConfigError

    try:
        camp = Campaign.from_toml(path)
    except ConfigError as exc:
        if rank == 0:
            print(f"ionsitu campaign: {exc}", file=sys.stderr)
        return None
    checks = [camp.changed_settings] + ([camp.check_lammps] if check_lammps else [])
    for check in checks:    # each runs on rank 0; every rank learns its verdict
        errors = check() if rank == 0 else None
        if comm is not None:
            errors = comm.bcast(errors, root=0)
        if errors:
            if rank == 0:
                print(f"ionsitu campaign: {ConfigError(errors, str(path))}", file=sys.stderr)
            return None
    return camp


def run(args) -> int:
    if args.action == "keys":
        from .campaign import schema_text

        print(schema_text(), end="")
        return 0
    if args.action == "check":
        camp = _load(args.config, not args.no_lammps)
        if camp is None:
            return 2
        print(f"{args.config}: OK ({len(camp.members)} members, output {camp.output})")
        return 0
    if args.action == "status":
        camp = _load(args.config, False)
        if camp is None:
            return 2
        for m in camp.members:
            st = camp.statuses()[m.name] or {}
            err = f"  {st.get('error')}" if st.get("error") else ""
            print(f"{m.name:<16} {st.get('state', 'pending'):<10} step {st.get('step', 0)}/{camp.target_step}{err}")
        return 0
    if args.action == "report":
        camp = _load(args.config, False)
        if camp is None:
            return 2
        from . import report

        data = report.build(camp)
        paths = report.write(camp, data, args.out)
        if args.print:
            print(json.dumps(data, indent=1, default=str))
        print(report.summary_text(data))
        print(f"report: {paths['json']}\n        {paths['html']}")
        return 0
    # run
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    rank = world.Get_rank()
    camp = _load(args.config, not args.no_check, rank, world)
    if camp is None:
        return 2
    rpr = args.ranks_per_run or camp.conf["campaign"]["ranks_per_run"]
    if world.Get_size() % rpr:
        if rank == 0:
            print(f"ionsitu campaign: {world.Get_size()} MPI ranks do not split into groups of "
                  f"ranks_per_run = {rpr}", file=sys.stderr)
        return 2
    result = camp.run(world, rpr, retry_failed=args.retry_failed, progress=not args.quiet,
                      progress_every=args.progress_every, write_report=not args.no_report)
    code = 0
    if rank == 0:
        states = result["members"]
        code = 0 if all(s == "completed" for s in states.values()) else 1
    return world.bcast(code, root=0)
