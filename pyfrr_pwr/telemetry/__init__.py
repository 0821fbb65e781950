"""Layer 2, telemetry: power and energy readers, each with the same small
``read()`` interface, I/O at the edge and parsing kept pure.

* ``sensors``: hwmon / RAPL (sysfs) power for line cards and ports (the
  agent's ``Measurer``), read robustly; ``SensorSource`` for compute sites;
* ``energy``: the ``Reading`` record (name, value, unit, ts, source,
  accuracy), ``SourceError`` reasons, unit normalisation;
* ``redfish``, ``prom``: compute-site power, capacity, energy (issue 9 sec. 1);
* ``mms``, ``grid``: power-system status (CATS seed sec. 4.3);
* ``store``: last good values with their age, the staleness limit, drop counts;
* ``poller``: the asyncio shell, and ``build`` from power.yml's ``energy``.

See docs/energy.md.
"""
