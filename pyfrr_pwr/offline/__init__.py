"""Layer 3, offline computation over topology files: what the routers of a
lab would advertise, through the real encoder and decoder, into TEDs."""
