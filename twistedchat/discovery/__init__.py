"""Nodes and clients finding each other by authenticated UDP broadcast."""
