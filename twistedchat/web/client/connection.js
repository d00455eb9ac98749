// The connection to the cluster: which nodes serve it (/nodes.json), one WebSocket
// connection to one of them, registration on it (CAP, SASL, REGISTER), keepalive, and
// moving to another node, with a backoff, when that one goes away. Every line the
// server sends comes in here (receive) and goes to its handler: this file's own, or
// the conversations' (events.js).
"use strict";

(function (tc) {
  var connection = tc.connection;
  var view = tc.view;
  var conversations = tc.conversations;
  var events = tc.events;
  var SERVER = tc.SERVER;
  var me = tc.me;
  var server = tc.server;
  var buffers = tc.buffers;

  // -- constants ------------------------------------------------------------------------

  // The capabilities we use. Not draft/event-playback: replayed JOINs and PARTs would
  // corrupt the nick list, which NAMES gives us as it is now.
  var WANTED_CAPS = [
    "sasl", "message-tags", "server-time", "echo-message", "batch", "draft/chathistory",
    "multi-prefix", "away-notify", "account-notify", "extended-join", "cap-notify",
  ];
  var REGISTRATION_TIMEOUT_MS = 15000; // a node this slow to welcome us is given up on
  var PING_AFTER_MS = 20000; // silence after which we ask the node if it is still there
  var DEAD_AFTER_MS = 35000; // silence after which we take it for dead and move
  var BACKOFF_MS = [0, 250, 500, 1000, 2000, 4000, 8000]; // per round of all nodes
  var NODES_REFRESH_MS = 30000;

  // The cluster: every node we know of, and which one we use now.
  var cluster = {
    nodes: [], // {id, url, leader}
    node: null, // the node of the current (or last) connection
    attempt: 0, // connection attempts since the last one that worked
    order: [], // the nodes to try in this round of attempts
    timer: null,
  };

  // -- the nodes of the cluster ---------------------------------------------------------

  function sameOriginWebSocket() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
  }

  // nodes.json lives beside the WebSocket, on the node's web endpoint.
  function nodesUrl(wsUrl) {
    return wsUrl.replace(/^ws/, "http").replace(/\/*$/, "/") + "nodes.json";
  }

  // Ask which nodes serve the cluster: the node we are connected to first (it knows
  // best), then the one that served the page. A node's answer is its view of the log:
  // members marked down are left out, so the list is replaced, not merged. Reading
  // another node than the page's is a cross-origin request, which that node's headers
  // may refuse (CORS, the page's Content-Security-Policy): then the next source is
  // asked, and failing all we keep the list we have.
  function refreshNodes(sources) {
    if (!sources.length) return Promise.resolve(null);
    return fetch(sources[0], { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(useNodes)
      .catch(function () {
        return refreshNodes(sources.slice(1));
      });
  }

  function useNodes(answer) {
    var nodes = (answer.nodes || []).filter(function (n) {
      return n && typeof n.url === "string" && /^wss?:\/\//.test(n.url);
    });
    if (nodes.length) cluster.nodes = nodes;
    if (cluster.node) {
      var same = findNode(cluster.node.url);
      if (same) cluster.node = same; // its leader flag may have changed
    }
    return answer;
  }

  function findNode(url) {
    for (var i = 0; i < cluster.nodes.length; i++) {
      if (cluster.nodes[i].url === url) return cluster.nodes[i];
    }
    return null;
  }

  function nodeName(node) {
    return node.id || node.url.replace(/^wss?:\/\//, "").replace(/\/$/, "");
  }

  // The nodes to try after losing ``lost``: the others in random order (so that a
  // dead node's clients spread out), the lost one last (it may just be restarting).
  function failoverOrder(lost) {
    var others = cluster.nodes.filter(function (n) {
      return !lost || n.url !== lost.url;
    });
    for (var i = others.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var swap = others[i];
      others[i] = others[j];
      others[j] = swap;
    }
    return lost ? others.concat([lost]) : others;
  }

  // The next node to try, and how long to wait first: no wait within the first round
  // of all nodes, then a growing (bounded) wait before each further round.
  function nextAttempt() {
    var index = cluster.attempt % Math.max(cluster.order.length, 1);
    if (index === 0 && cluster.attempt > 0) cluster.order = failoverOrder(cluster.node);
    var round = Math.floor(cluster.attempt / Math.max(cluster.order.length, 1));
    var wait = BACKOFF_MS[Math.min(round, BACKOFF_MS.length - 1)];
    if (index !== 0) wait = 0;
    cluster.attempt += 1;
    return { node: cluster.order[index], wait: wait * (0.75 + Math.random() / 2) };
  }

  function scheduleReconnect() {
    clearTimeout(cluster.timer);
    var next = nextAttempt();
    view.setStatus("reconnecting… (trying node " + nodeName(next.node) + ")", "warn");
    cluster.timer = setTimeout(function () {
      connect(next.node);
    }, next.wait);
  }

  // -- one connection -------------------------------------------------------------------

  // Opens a WebSocket to ``node`` and registers on it. Everything that belongs to one
  // connection lives in ``conn`` (tc.conn); a new connection starts from a fresh one.
  function connect(node) {
    cluster.node = node;
    view.setStatus("connecting to node " + nodeName(node) + "…", "warn");
    var c = {
      ws: null,
      node: node,
      dead: false,
      fatal: false, // the server refused our login: do not reconnect
      registered: false,
      reclaimed: false, // the welcome said "Welcome back": the server restores channels
      caps: new Set(),
      capsOffered: {},
      batches: new Map(), // open batch reference -> {type, target, count}
      names: new Map(), // channel key -> members being listed by 353s
      joinedHere: new Set(), // channel keys this connection has JOINed
      caughtUp: new Set(), // conversation keys asked CHATHISTORY on this connection
      lastHeard: Date.now(),
      timers: [],
      lost: lost,
    };
    tc.conn = c;
    function lost() {
      if (c !== tc.conn || c.dead) return;
      c.dead = true;
      c.timers.forEach(clearTimeout); // clears the intervals too (one pool of ids)
      connectionLost(c);
    }
    try {
      c.ws = new WebSocket(node.url, ["text.ircv3.net", "binary.ircv3.net"]);
    } catch (err) {
      setTimeout(lost, 0); // a malformed address: count it as a node that is down
      return;
    }
    var ws = c.ws;
    ws.binaryType = "arraybuffer";
    c.timers.push(setTimeout(function () {
      if (!c.registered) abandon(c, "no welcome in time");
    }, REGISTRATION_TIMEOUT_MS));
    c.timers.push(setInterval(function () {
      keepalive(c);
    }, 5000));
    ws.onopen = function () {
      if (c === tc.conn) startRegistration(c);
    };
    ws.onmessage = function (event) {
      if (c !== tc.conn || c.dead) return;
      c.lastHeard = Date.now();
      var text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
      // One line per frame says the spec; tolerate a frame carrying several.
      text.split(/\r?\n/).forEach(function (line) {
        if (line) receive(c, IRC.parse(line));
      });
    };
    ws.onclose = lost;
  }

  // Give up on a connection that hangs: do not wait for the WebSocket's closing
  // handshake (a hung node never answers it), move on now.
  function abandon(c, why) {
    if (c.dead) return;
    serverNote("Leaving node " + nodeName(c.node) + ": " + why);
    try {
      c.ws.close();
    } catch (err) {
      /* already closing */
    }
    c.lost();
  }

  function keepalive(c) {
    if (c.dead || !c.registered) return;
    var quiet = Date.now() - c.lastHeard;
    if (quiet > DEAD_AFTER_MS) abandon(c, "it stopped answering");
    else if (quiet > PING_AFTER_MS) send(c, "PING", ["keepalive"]);
  }

  function connectionLost(c) {
    c.caps.clear();
    buffers.forEach(function (b) {
      b.live = false;
    });
    if (!me.loggedInOnce) {
      // The first connection: either the login failed (shown already) or the node the
      // page came from is unreachable; try the others before giving up.
      if (!view.ui.loginError.textContent && cluster.attempt < cluster.nodes.length * 2) {
        scheduleReconnect();
      } else {
        view.showLogin(view.ui.loginError.textContent || "Cannot reach any node of the cluster.");
      }
      return;
    }
    if (c.fatal) return; // the server refused our login: do not hammer it
    if (c.registered) {
      // A connection that worked: start a fresh round, from the nodes known now.
      cluster.attempt = 0;
      cluster.order = failoverOrder(c.node);
    }
    serverNote("Lost the connection to node " + nodeName(c.node) + ".");
    conversations.markBuffersDisconnected();
    scheduleReconnect();
  }

  // A note of ours in the server buffer (connection news, refusals).
  function serverNote(text) {
    conversations.note(conversations.buffer(SERVER), text);
  }

  function send(c, command, params) {
    return sendLine(c, IRC.format(command, params));
  }

  function sendLine(c, line) {
    if (!c || c.dead || !c.ws || c.ws.readyState !== WebSocket.OPEN) return false;
    c.ws.send(c.ws.protocol === "binary.ircv3.net" ? new TextEncoder().encode(line) : line);
    return true;
  }

  // -- registration: CAP, SASL, REGISTER ------------------------------------------------

  function startRegistration(c) {
    send(c, "CAP", ["LS", "302"]);
    send(c, "NICK", [me.nick]);
    send(c, "USER", [me.nick, "0", "*", me.nick]);
  }

  function onCap(c, msg) {
    var sub = (msg.params[1] || "").toUpperCase();
    var more = msg.params[2] === "*";
    var list = IRC.capList(msg.params[more ? 3 : 2] || "");
    if (sub === "LS") {
      Object.assign(c.capsOffered, list);
      if (more || c.registered) return;
      var ask = WANTED_CAPS.filter(function (cap) {
        return cap in c.capsOffered && (cap !== "sasl" || useSasl());
      });
      if (useSasl() && !("sasl" in c.capsOffered)) {
        return fail(c, "This server does not offer SASL logins.");
      }
      if (ask.length) send(c, "CAP", ["REQ", ask.join(" ")]);
      else send(c, "CAP", ["END"]);
    } else if (sub === "ACK") {
      Object.keys(list).forEach(function (cap) {
        if (cap[0] === "-") c.caps.delete(cap.slice(1));
        else c.caps.add(cap);
      });
      if (c.registered) return;
      if (c.caps.has("sasl")) send(c, "AUTHENTICATE", ["PLAIN"]);
      else send(c, "CAP", ["END"]);
    } else if (sub === "NAK") {
      if (!c.registered) send(c, "CAP", ["END"]);
    } else if (sub === "NEW") {
      var extra = WANTED_CAPS.filter(function (cap) {
        return cap in list && cap !== "sasl" && !c.caps.has(cap);
      });
      if (extra.length) send(c, "CAP", ["REQ", extra.join(" ")]);
    } else if (sub === "DEL") {
      Object.keys(list).forEach(function (cap) {
        c.caps.delete(cap);
      });
    }
  }

  // SASL for every login but the one that creates the account (it has none yet).
  function useSasl() {
    return !me.registering;
  }

  function onAuthenticate(c, msg) {
    if (msg.params[0] !== "+") return;
    var account = me.account || me.nick; // the account, whatever the nick is now
    IRC.saslPlain(account, me.password).forEach(function (chunk) {
      send(c, "AUTHENTICATE", [chunk]);
    });
  }

  // The server refused us for good (a wrong password, a taken account name): stop,
  // say why, and do not reconnect.
  function fail(c, text) {
    c.fatal = true;
    if (!me.loggedInOnce) view.ui.loginError.textContent = text;
    else serverNote(text);
    view.setStatus(text, "error");
    send(c, "QUIT", ["bye"]);
    try {
      c.ws.close();
    } catch (err) {
      /* closing anyway */
    }
  }

  // A refused login stops us only the first time: after a failover the password is the
  // one that worked before, and a node refuses it when it is busy checking passwords
  // (a storm of clients logging in again at once); then back off and try again.
  function saslRefused(c, msg) {
    if (!me.loggedInOnce) return fail(c, "Wrong nick or password.");
    serverNote("Login refused: " + msg.params[msg.params.length - 1]);
    abandon(c, "it refused the login");
  }

  function onWelcome(c, msg) {
    c.registered = true;
    c.reclaimed = /^Welcome back/.test(msg.params[1] || "");
    me.nick = msg.params[0];
    cluster.attempt = 0;
    cluster.order = failoverOrder(c.node);
    view.setStatus("connected to node " + nodeName(c.node), "ok");
    var refresh = function () {
      var home = c.node.url === sameOriginWebSocket();
      var sources = home ? ["nodes.json"] : [nodesUrl(c.node.url), "nodes.json"];
      refreshNodes(sources).then(function () {
        if (c !== tc.conn || c.dead) return;
        view.setStatus("connected to node " + nodeName(cluster.node), "ok");
      });
    };
    refresh();
    c.timers.push(setInterval(refresh, NODES_REFRESH_MS)); // nodes come and go

    if (!me.registering) view.enterChat();
  }

  // End of the welcome (end of MOTD, or no MOTD): the account is registered now, or
  // the channels are restored: a reclaim sends their JOINs right after the welcome;
  // any channel still missing a moment later is joined again by hand.
  function onWelcomeDone(c) {
    if (me.registering) {
      send(c, "REGISTER", ["*", "*", me.password]);
      return;
    }
    var rejoin = function () {
      if (c !== tc.conn || c.dead) return;
      buffers.forEach(function (b) {
        if (b.kind === "channel" && b.wanted && !c.joinedHere.has(b.key)) send(c, "JOIN", [b.name]);
        if (b.kind === "query") conversations.catchUp(c, b);
      });
    };
    if (c.reclaimed) setTimeout(rejoin, 1500);
    else rejoin();
  }

  function onRegister(c, msg) {
    if (msg.command === "REGISTER" && msg.params[0] === "SUCCESS") {
      me.account = msg.params[1];
      me.registering = false; // from now on every login is by SASL
      view.enterChat();
      serverNote("Account " + me.account + " registered; you are logged in.");
    } else if (msg.command === "FAIL" && msg.params[0] === "REGISTER") {
      fail(c, "Could not create the account: " + msg.params[msg.params.length - 1]);
    }
  }


  // -- what the server sends ------------------------------------------------------------

  function receive(c, msg) {
    var handler = HANDLERS[msg.command] || events.HANDLERS[msg.command];
    if (handler) handler(c, msg);
    else if (/^[45]\d\d$/.test(msg.command)) events.showError(msg);
  }

  // The connection's own lines: keepalive, registration and login, the server's
  // parameters (005), refusals and errors.
  var HANDLERS = {
    PING: function (c, msg) {
      send(c, "PONG", msg.params);
    },
    CAP: onCap,
    AUTHENTICATE: onAuthenticate,
    "900": function (c, msg) {
      me.account = msg.params[2];
    },
    "903": function (c) {
      send(c, "CAP", ["END"]);
    },
    "904": saslRefused,
    "905": saslRefused,
    "001": onWelcome,
    "005": function (c, msg) {
      msg.params.slice(1, -1).forEach(function (token) {
        var parts = token.split("=");
        if (parts[0] === "CHANTYPES") server.chantypes = parts[1] || "#";
        if (parts[0] === "PREFIX") server.prefixes = (parts[1] || "").replace(/^\(.*?\)/, "");
        if (parts[0] === "CHATHISTORY") server.historyMax = parseInt(parts[1], 10) || 100;
      });
    },
    "376": onWelcomeDone,
    "422": onWelcomeDone,
    "433": function (c, msg) {
      if (c.registered) return events.showError(msg);
      if (me.registering) return fail(c, "The nick " + me.nick + " is in use.");
      me.nick += "_"; // someone else has it; the reclaim needs the account's own nick
      send(c, "NICK", [me.nick]);
    },
    REGISTER: onRegister,
    FAIL: function (c, msg) {
      if (msg.params[0] === "REGISTER") onRegister(c, msg);
      else if (msg.params[0] === "CHATHISTORY") conversations.historyFailed(c, msg);
      else serverNote(msg.params.join(" "));
    },
    ERROR: function (c, msg) {
      serverNote("Closing: " + (msg.params[0] || ""));
    },
  };

  // The first connection, after the login form: the node that served the page first,
  // then the others.
  function connectHome() {
    cluster.attempt = 0;
    var home = findNode(sameOriginWebSocket()) || { id: location.host, url: sameOriginWebSocket() };
    cluster.order = [home].concat(failoverOrder(home).slice(0, -1));
    cluster.attempt = 1;
    connect(home);
  }

  Object.assign(connection, {
    refreshNodes: refreshNodes,
    nodeName: nodeName,
    connectHome: connectHome,
    send: send,
    sendLine: sendLine,
  });
})(window.twistedchat);
