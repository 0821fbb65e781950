"""Layer 3, the per-router agent: pure decision cores (link advertisement,
ABR vectors, head-end choice, reservations, control requests) and thin
asyncio shells (OSPF API transport, netlink measurement, signalling,
the daemon that wires the tasks)."""
