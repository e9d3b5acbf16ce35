"""The jump network of the sites: graph, connectivity/percolation, graph order parameter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.events import _check_events, _disp, _positive
from .rates import _jump_types


def _nx():
    try:
        import networkx as nx
    except ImportError as err:  # pragma: no cover
        raise ImportError("the jump network needs the 'networkx' package (pip install networkx)") from err
    return nx


def jump_network(events, n_sites: int | None = None, site_positions=None):
    """Directed jump network (networkx.DiGraph).

    Nodes: site indices (0..n_sites-1 if given, else the sites seen in the events), with
    attribute ``pos`` from ``site_positions`` (n_sites, 3) if given. Edge i→j attributes:
    ``count`` J_ij and ``weight`` = P(i→j) = J_ij / Σ_k J_ik (probability that a hop leaving
    i goes to j). Site-free events (site -1) are refused.
    """
    nx = _nx()
    ev = _check_events(events)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("the jump network needs site indices; events contain site -1 (site-free mode)")
    G = nx.DiGraph()
    seen = np.unique(np.r_[ev["from_site"], ev["to_site"]])
    if n_sites is not None:
        if len(seen) and seen.max() >= n_sites:
            raise ValueError(f"site index {int(seen.max())} >= n_sites {n_sites}")
        nodes = range(int(n_sites))
    else:
        nodes = seen.tolist()
    pos = None if site_positions is None else np.asarray(site_positions, dtype=float)
    for s in nodes:
        if pos is not None:
            G.add_node(int(s), pos=pos[int(s)])
        else:
            G.add_node(int(s))
    pairs, inv = _jump_types(ev, directed=True)
    count = np.bincount(inv, minlength=len(pairs))
    out_tot = {}
    for (a, _b), c in zip(pairs.tolist(), count.tolist()):
        out_tot[a] = out_tot.get(a, 0) + c
    for (a, b), c in zip(pairs.tolist(), count.tolist()):
        G.add_edge(a, b, count=int(c), weight=c / out_tot[a])
    return G


@dataclass
class Connectivity:
    """Connectivity of the jump network (undirected, weakly connected components).

    component (n_sites,) component label per site; sizes (c,) sites per component;
    largest_fraction: largest component / all sites; dimensionality (c,): number of
    independent lattice directions in which the component winds around the periodic cell
    (0: finite cluster, 1: percolating channel, 2: layer, 3: 3D network; -1 unknown without
    site positions); percolating: any dimensionality >= 1; windings {component: (k, 3) int}
    independent cell-translation vectors spanned by its cycles.
    """

    component: np.ndarray
    sizes: np.ndarray
    largest_fraction: float
    dimensionality: np.ndarray
    percolating: bool
    windings: dict


def network_connectivity(events, n_sites: int, site_frac=None, cell=None) -> Connectivity:
    """Connectivity and percolation of the jump network.

    With ``site_frac`` (n_sites, 3) and ``cell`` (3, 3) rows a, b, c, every hop gets the cell
    translation it crosses, n = round(s_from + Δr·cell⁻¹ - s_to) ∈ Z³ (Δr: the recorded
    unwrapped displacement). Walking the component's spanning tree assigns an image vector p
    to each site; every further edge closes a cycle of winding p_u + n - p_v. The rank of
    those windings is the component's dimensionality (percolation through the periodic
    system in that many directions).
    """
    ev = _check_events(events)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("connectivity needs site indices; events contain site -1 (site-free mode)")
    n_sites = int(_positive("n_sites", n_sites))
    if len(ev) and max(ev["from_site"].max(), ev["to_site"].max()) >= n_sites:
        raise ValueError(f"site index {int(max(ev['from_site'].max(), ev['to_site'].max()))} >= n_sites {n_sites}")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b = ev["from_site"], ev["to_site"]
    A = coo_matrix((np.ones(len(ev)), (a, b)), shape=(n_sites, n_sites))
    ncomp, label = connected_components(A, directed=True, connection="weak")
    sizes = np.bincount(label, minlength=ncomp)
    dims = np.full(ncomp, -1, dtype=np.int64)
    windings = {}
    if site_frac is not None and cell is not None:
        sf = np.asarray(site_frac, dtype=float)
        if sf.shape != (n_sites, 3):
            raise ValueError(f"site_frac has shape {sf.shape}, expected ({n_sites}, 3)")
        c = np.asarray(cell, dtype=float)
        if c.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) rows a, b, c; got shape {c.shape}")
        dfrac = np.linalg.solve(c.T, _disp(ev).T).T
        shift = np.rint(sf[a] + dfrac - sf[b]).astype(np.int64)
        resid = np.abs(sf[a] + dfrac - sf[b] - shift).max() if len(ev) else 0.0
        if resid > 0.05:
            raise ValueError(f"hop displacements do not join the given site positions (fractional mismatch {resid:.3g});"
                             " are site_frac and cell those of the events?")
        # adjacency lists with shifts (both directions); plain Python ints in the walk
        adj = [[] for _ in range(n_sites)]
        for u, v, (x, y, z) in zip(a.tolist(), b.tolist(), shift.tolist()):
            adj[u].append((v, x, y, z))
            adj[v].append((u, -x, -y, -z))
        img = [None] * n_sites
        cyc = {k: {} for k in range(ncomp)}   # distinct windings in order of discovery
        lab = label.tolist()
        for root in range(n_sites):
            if img[root] is not None:
                continue
            img[root] = (0, 0, 0)
            stack = [root]
            while stack:
                u = stack.pop()
                pu = img[u]
                for v, x, y, z in adj[u]:
                    pv = (pu[0] + x, pu[1] + y, pu[2] + z)
                    if img[v] is None:
                        img[v] = pv
                        stack.append(v)
                    else:
                        w = (pv[0] - img[v][0], pv[1] - img[v][1], pv[2] - img[v][2])
                        if w != (0, 0, 0):
                            cyc[lab[u]].setdefault(w)
        for k in range(ncomp):
            if cyc[k]:
                W = np.array(list(cyc[k]), dtype=np.int64)
                r = int(np.linalg.matrix_rank(W.astype(float)))
                # a basis: greedy independent rows
                basis = []
                for w in W:
                    if np.linalg.matrix_rank(np.array(basis + [w], dtype=float)) > len(basis):
                        basis.append(w)
                    if len(basis) == r:
                        break
                windings[k] = np.array(basis, dtype=np.int64)
                dims[k] = r
            else:
                dims[k] = 0
                windings[k] = np.zeros((0, 3), dtype=np.int64)
    return Connectivity(component=label, sizes=sizes, largest_fraction=float(sizes.max() / n_sites),
                        dimensionality=dims, percolating=bool(np.any(dims >= 1)), windings=windings)


def graph_order_parameter(G, k: float = 1.0, decimals: int = 6, weight: str = "weight",
                          normalize: bool = True) -> float:
    """Graph order parameter (GOP) of a (jump) network, Chapman, Goldman & Wood,
    npj Comput. Mater. 8, 37 (2022).

    Node degree d = sum of the weights of the edges into the node (in a jump network with
    weights P(i→j), Σ_i P(i→j): the probability flux into j; undirected graphs: the
    weighted degree), normalised to 0..1 (``normalize``: divided by the largest degree of
    the graph; an edgeless graph keeps degree 0). For each (weakly) connected subgraph s,
    with P(d_m) the fraction of its nodes whose degree (rounded to ``decimals``) is d_m:
        g_s = Σ_m [P(d_m) ln P(d_m) + d_m P(d_m)]
    and GOP = Σ_s g_s^k (k = 1 by default): a negative degree-entropy term plus the mean
    (normalised) degree of each subgraph, summed over subgraphs.
    """
    nx = _nx()
    if G.number_of_nodes() == 0:
        raise ValueError("graph has no nodes")
    if G.is_directed():
        deg = dict(G.in_degree(weight=weight))
        comps = nx.weakly_connected_components(G)
    else:
        deg = dict(G.degree(weight=weight))
        comps = nx.connected_components(G)
    if any(v < 0 for v in deg.values()):
        raise ValueError(f"negative edge weights ('{weight}') give negative node degrees")
    scale = max(deg.values())
    if normalize and scale > 0:
        deg = {v: d / scale for v, d in deg.items()}
    total = 0.0
    for comp in comps:
        d = np.round(np.array([deg[v] for v in comp], dtype=float), decimals)
        vals, cnt = np.unique(d, return_counts=True)
        p = cnt / cnt.sum()
        g = float(np.sum(p * np.log(p) + vals * p))
        total += g**k
    return float(total)
