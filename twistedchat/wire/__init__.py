"""The IRC wire layer: messages, their grammar, case mapping, numerics and framing.

Pure, and below everything else: it imports nothing of ``chat/``, ``irc/`` or
Twisted, so the chat core can use IRC's vocabulary without depending on the
network front end that sits above it.
"""
