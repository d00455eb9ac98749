// The twistedchat web client: IRC over WebSocket (IRCv3 text.ircv3.net) to the node
// that served the page, and to another node of the cluster when that one goes away.
//
// How it loses nothing when its node dies (docs/decisions/0038-web-client.md):
//  - it learns every node's WebSocket address from /nodes.json, and keeps that fresh;
//  - on losing its connection it connects to another node and logs in again by SASL:
//    the server gives it its old session back (same nick and channels: a "reclaim")
//    and replays what that session was sent meanwhile;
//  - it then asks CHATHISTORY AFTER the last msgid it shows in each conversation, so
//    whatever the replay could not know is filled in too;
//  - every message is shown once, by msgid, at its place in the log's order.
//
// Nothing from the network is ever put in the page as HTML: text goes in by
// textContent only.
//
// The client is a few classic scripts, loaded in this order by index.html, that share
// one namespace, window.twistedchat, made here (and IRC, from irc.js):
//  - state.js: this namespace and the state every part reads;
//  - view.js: the page (buffers list, lines, members, title, status line, login form);
//  - conversations.js: each conversation's lines, once by msgid and in the log's
//    order, own lines awaiting their echo, and the CHATHISTORY catch-up;
//  - events.js: what the server says about conversations (messages, joins, parts,
//    quits, nicks, away, topics, NAMES and WHO);
//  - connection.js: the nodes of the cluster, one connection, failover and backoff,
//    keepalive, and registration (CAP, SASL, REGISTER);
//  - commands.js: what the user types (/join, /msg, ...);
//  - main.js: the forms wired to all that, and the first look at /nodes.json.
// Each file fills in its own part of the namespace; the parts call one another only
// once the page has started, so every part is there by then.
"use strict";

window.twistedchat = {
  SERVER: "*server*", // key of the buffer for server notices and errors

  me: {
    nick: "",
    account: null, // set once logged in (SASL 900 or REGISTER SUCCESS)
    password: "", // kept in memory only, to log in again after a failover
    registering: false, // this first connection registers the account (REGISTER)
    loggedInOnce: false, // the chat view is shown; failures from now on reconnect
  },
  server: { chantypes: "#&", prefixes: "@+", historyMax: 100 },
  buffers: new Map(), // casefolded name -> buffer
  current: null, // the buffer shown
  conn: null, // the current connection, see connect() in connection.js

  // The parts, filled in by their files.
  view: {},
  conversations: {},
  events: {},
  connection: {},
  commands: {},
};
