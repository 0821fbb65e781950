"""How much power the routing saves: the draft's metric against OSPF, a
power-down heuristic and a central optimum, on real networks and demands.

Modules, one concept each:

* ``network``: routers, full-duplex links, areas; the area partition of a
  flat network.
* ``sources``: the I/O shell (topohub networks, containerlab files, power
  defaults files).
* ``demands``: SNDlib matrices, the gravity model, demand files; what
  scale 1 means.
* ``powermodel``: chassis, line cards and ports, the draft's profiles
  (sec. 2.1.8), the default figures and where they come from; the power
  accounting every strategy is judged by.
* ``instance``: network, power model and demands together; capacity
  dimensioning.
* ``ospf``, ``draft``, ``powerdown``, ``optimum``: the strategies.
* ``metrics``, ``sweep``, ``report``, ``plots``: measuring, sweeping the
  load, tables and JSON, figures.

The command is ``pyfrr-pwr evaluate`` (``pyfrr_pwr.cli.evaluate``); the
method and the results are in docs/evaluation.md.
"""
