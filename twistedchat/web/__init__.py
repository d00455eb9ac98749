"""The node's web endpoint: IRC over WebSocket, the bundled web client's files, and the
list of the cluster's web endpoints the client fails over to (``--websocket``)."""
