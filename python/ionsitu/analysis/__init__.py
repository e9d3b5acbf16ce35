"""Analysis of transport, Arrhenius behaviour, sites and hops: results from arrays and files.

- :mod:`.transport`: D*, D_sigma, Haven ratio, conductivity from MSD results;
- :mod:`.arrhenius`: Arrhenius fits (D, sigma T, rates), two regimes, extrapolation;
- :mod:`.msd`: the MSD of existing trajectories (the C++ correlator) and the drift reference;
- :mod:`.sites`: sites from occupancy grids, free energy, barriers;
- :mod:`.hops`: hop events: rates, jump classes, residence, E_a, networks, correlated hops,
  and :func:`.hops.hop_summary`, the one summary of an event log.

The command line and the campaign report call these functions, with the same defaults.
"""
