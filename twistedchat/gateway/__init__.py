"""The local gateway: any IRC client gets the failover of :mod:`twistedchat.client`."""
