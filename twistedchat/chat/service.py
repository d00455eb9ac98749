"""NickServ, the account service every node answers for (``/msg NickServ ...``): its name
and the source of its NOTICEs, for the state's replies and the connection's alike."""

SERVICE = "NickServ"
SERVICE_PREFIX = "NickServ!NickServ@services."
