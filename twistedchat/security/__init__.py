"""Security of the links between nodes: a cluster CA, node certificates, mutual TLS.

- :mod:`.identity`: what a node id (``HOST:PORT``) looks like in a certificate, and the
  check that a certificate belongs to a node id (pure, no I/O).
- :mod:`.pki`: creating the cluster CA and node certificates, and the files they live in.
- :mod:`.peertls`: the Twisted side: TLS options for the peer listener and dialler.
- :mod:`.admission`: a node must prove its identity over TLS before the cluster adds it.
- :mod:`.cli`: the ``chatnode ca init|issue`` console script.

See ``docs/security.md`` and ``docs/decisions/0011-peer-tls.md``.
"""
