"""Analysis of hop (jump) events: rates, residence, jump diffusion, E_a, networks, correlations.

Events are :data:`ionsitu.io.events.EVENT_DTYPE` tables: from ``fix hop/events`` logs
(:func:`read_events`), the offline core (:func:`events_from_core`) or any other detector
(:func:`make_events`); the table and the log format are described in :mod:`ionsitu.io.events`.
One module per concern:

- :mod:`.rates`: jump rates per jump type, jump diffusivity, backjumps;
- :mod:`.classes`: jump classes (symmetry-equivalent jump types) and their rates;
- :mod:`.residence`: residence times, site trajectories, residence autocorrelation;
- :mod:`.activation`: effective activation energies and the attempt frequency ν*;
- :mod:`.network`: the jump network, connectivity and the graph order parameter;
- :mod:`.correlated`: correlated (concerted) hops with their chance level;
- :mod:`.summary`: every number of one event log, the one summary ``ionsitu hops`` and the
  campaign report both print.

Conventions (stated once here, repeated in each function):

- N is the number of mobile ions, t the observed time (time units). Jump type = ordered
  site pair (a, b) (``directed=True``) or unordered {a, b}.
- Jump rate Γ_i = J_i / (N t): jumps of type i per ion per time (1/time).
- Jump diffusivity (Einstein–Smoluchowski, tracer-like, no correlations):
  D_j = Σ_i Γ_i <a_i²> / (2 d) = Σ_hops |Δr|² / (2 d N t) (length²/time), d = 3; per
  direction D_j,x = Σ Δx² / (2 N t). With <a_i²> the mean squared jump length of type i.
- E_a,i = -kB T ln(J_i / (t N_i ν*)), N_i = ions that made a jump of type i (or all N);
  energy units of kB T (eV with kB in eV/K, the default).
- Backjump: hop k of an ion whose destination is the origin of its previous hop k-1.
- Times of correlated-hop windows and Gaussian widths are in time units. The window is
  inclusive (|Δt| <= window; on a sampling grid compared in whole samples). The window
  method's fraction of collective hops comes with its chance level (:func:`correlated_hops`:
  each ion's hop train circularly shifted in time at random, seeded): report observed,
  chance and excess together.
- Jump classes (:func:`jump_classes`): symmetry-equivalent jump types of a crystal share
  the hop length (and, when given, the kinds of their origin and destination sites). Hop
  lengths are clustered 1-D by single linkage: sorted lengths split where the gap to the
  next exceeds ``rel_tol`` x the length (default 5 %) or ``tol`` (absolute). The
  per-site-pair view (``jump_rates``, ``activation_energies(by="pair")``) stays available.
  For a class c: Γ_c = J_c/(N t) (rate per ion), multiplicity z_c = mean number of class-c
  destinations per origin site (from the site geometry when given, else the distinct
  destinations observed), E_a,c = -kB T ln(J_c/(t N_c z_c ν*)) with N_c ions taking part:
  the per-direction rate of the class in the formula above, so that a crystal's
  equivalent jumps give one E_a.
"""

from ...io.events import (CORE_EVENT_DOUBLES, EVENT_DTYPE, EVENT_LOG_COLUMNS, EVENT_LOG_MAGIC,  # noqa: F401
                          events_from_core, is_event_file, make_events, observed_time, read_events)
from .activation import (DEFAULT_ATTEMPT_FREQUENCY_HZ, ActivationEnergies, activation_energies,  # noqa: F401
                         attempt_frequency, default_attempt_frequency, estimate_attempt_frequency)
from .classes import JumpClasses, JumpClassStats, jump_class_rates, jump_classes  # noqa: F401
from .correlated import (ChanceReference, CorrelatedHops, CorrelationGroups, ExpFit,  # noqa: F401
                         correlated_hops, correlated_hops_of_log, correlation_matrix_method,
                         fit_exponential_decay, log_time_grid)
from .network import Connectivity, graph_order_parameter, jump_network, network_connectivity  # noqa: F401
from .rates import (BackjumpStats, JumpDiffusivity, JumpStats, backjump_fraction, jump_diffusivity,  # noqa: F401
                    jump_rates)
from .residence import (ResidenceACF, ResidenceStats, ResidenceVsVolume, chudley_elliott_length,  # noqa: F401
                        nearest_neighbour_trajectory, residence_autocorrelation,
                        residence_time_distribution, residence_times, residence_vs_volume, site_trajectory)
from .sitefree import SiteFreeHops, detect_hops  # noqa: F401  (k-means + silhouette, IonDiff's method)
from .summary import (HopSummary, correlation_defaults, hop_summary, mean_se, pool_correlated,  # noqa: F401
                      ratio_with_error)

__all__ = [n for n in dir() if not n.startswith("_")]
