"""Layer 2, the data plane (issue 7). There is no MPLS in these kernels, so
a TE-LSP (draft sec. 1.2, 2.1.7) is an SRv6 path (RFC 8986, RFC 8754).

Pure cores, no I/O:

* ``sids``: a node's SID plan (locator from the router ID, End, End.X per
  adjacency, End.DX4 per served prefix, End.DT6, End.B6.Encaps per LSP).
* ``sidlist``: a chosen path's SID list, End.X per hop, optional
  compression where the IGP agrees, binding SIDs at ABRs when too deep.
* ``lsp``: one LSP at its head-end, a sans-I/O state machine (set-up,
  make-before-break, hysteresis, backup switch-over).
* ``softstate``: transit bookings that expire unless refreshed.

The shell: ``netlink``, SIDs and encap routes over rtnetlink (pyroute2),
one instance per namespace. Imports ``proto``/``model`` at most; never
``agent``, ``lab`` or ``cli``.
"""
