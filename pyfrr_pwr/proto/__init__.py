"""Layer 0, the wire: PWR LSA bodies (``wire``), their JSON forms, FRR's
OSPF API protocol (``ospfapi``) and the agents' own message formats. Pure
encoders, decoders and state machines; no sockets, no files."""
