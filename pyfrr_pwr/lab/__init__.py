"""Layer 4, the lab runner: containerlab topology files on network
namespaces with real FRR daemons and agents, no Docker.

Modules: ``runner`` (``Lab``: up, down, restart, status, exec), ``node``
(``Node``: a node's namespace and file locations), ``readiness`` (OSPF
convergence and agent readiness: what ``up --wait`` waits for),
``daemons`` (the FRR ``daemons`` file, FRR's version, a daemon's command
line), ``firewall`` (the nftables rules around ospfd's API and the agents'
signalling), ``agents`` (an agent's command line and a minimal client of its
control socket), ``addressing`` (IPv6: a node's addresses and SRv6
locator from its frr.conf, the always-up ``sr0`` device, the kernel's
IPv6 routes), ``common`` (LabError, RUN_ROOT, process helpers)."""
