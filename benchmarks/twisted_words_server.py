"""Twisted's own IRC server (twisted.words), as a fan-out baseline for ``irc_fanout``.

An in-memory realm that creates channels on JOIN and logs in any nick with any password
(twisted.words asks for a password: the benchmark sends ``PASS`` before ``NICK``). Runs until
killed; the benchmark starts it as a subprocess and stops it by pid.

    python -m benchmarks.twisted_words_server PORT
"""

from __future__ import annotations

import sys

from twisted.cred import checkers, credentials, portal
from twisted.internet import defer, endpoints, reactor
from twisted.words import service
from zope.interface import implementer


@implementer(checkers.ICredentialsChecker)
class AnyPassword:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def requestAvatarId(
        self, creds: credentials.IUsernamePassword
    ) -> defer.Deferred[bytes | tuple[()]]:
        return defer.succeed(creds.username)


def main() -> None:
    port = int(sys.argv[1])
    realm = service.InMemoryWordsRealm("bench.words")
    realm.createGroupOnRequest = True
    factory = service.IRCFactory(realm, portal.Portal(realm, [AnyPassword()]))
    endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1").listen(factory)
    reactor.run()


if __name__ == "__main__":
    main()
