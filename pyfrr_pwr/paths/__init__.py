"""Layer 2, path computation: k power-shortest paths under CSPF constraints
(``ksp``, the C core) and the inter-area scheme of draft sec. 2
(``interarea``, with its path-info combination ``transit`` and per-graph
caches ``graphcache``), and backups disjoint from a primary (``disjoint``).
Pure; imports ``model`` and ``proto``."""
