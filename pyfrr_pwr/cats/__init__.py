"""Layer 2, computing-power collaboration (second seed, issue 9, not built
yet): energy status of compute sites, service instances and the joint
compute + network + energy choice."""
