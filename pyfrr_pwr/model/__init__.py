"""Layer 1, the draft's model: its arithmetic (``metric``), a router's power
model, CSPF constraints, what a router advertises (``advert``) and the
per-area TE database (``ted``). Pure; imports only ``proto``."""
