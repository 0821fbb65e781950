"""Layer 2, the data plane (issue 7, not built yet): a pure LSP state
machine (set-up, make-before-break, protection) and a thin netlink shell
that installs SRv6 SIDs and encap routes. There is no MPLS in these
kernels, so a TE LSP here is an SRv6 path."""
