"""Analysis of transport, Arrhenius behaviour, sites and hops (results from arrays and files)."""
