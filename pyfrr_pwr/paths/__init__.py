"""Layer 2, path computation: k power-shortest paths under CSPF constraints
(``ksp``, the C core) and the inter-area scheme of draft sec. 2
(``interarea``). Pure; imports ``model`` and ``proto``."""
