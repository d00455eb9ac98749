"""Client-side helpers: finding a cluster node to connect to (the gateway builds on this)."""
