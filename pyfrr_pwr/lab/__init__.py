"""Layer 4, the lab runner: containerlab topology files on network
namespaces with real FRR daemons and agents, no Docker."""
