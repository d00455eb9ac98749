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
"use strict";

(function () {
  // -- constants ------------------------------------------------------------------------

  // The capabilities we use. Not draft/event-playback: replayed JOINs and PARTs would
  // corrupt the nick list, which NAMES gives us as it is now.
  var WANTED_CAPS = [
    "sasl", "message-tags", "server-time", "echo-message", "batch", "draft/chathistory",
    "multi-prefix", "away-notify", "account-notify", "extended-join", "cap-notify",
  ];
  var SERVER = "*server*"; // key of the buffer for server notices and errors
  var HISTORY_ON_JOIN = 50; // lines of history shown when a conversation is opened
  var REGISTRATION_TIMEOUT_MS = 15000; // a node this slow to welcome us is given up on
  var PING_AFTER_MS = 20000; // silence after which we ask the node if it is still there
  var DEAD_AFTER_MS = 35000; // silence after which we take it for dead and move
  var BACKOFF_MS = [0, 250, 500, 1000, 2000, 4000, 8000]; // per round of all nodes
  var NODES_REFRESH_MS = 30000;

  // -- page elements --------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  var ui = {
    status: $("status"),
    login: $("login"),
    loginForm: $("login-form"),
    loginNick: $("login-nick"),
    loginPassword: $("login-password"),
    loginError: $("login-error"),
    chat: $("chat"),
    bufferList: $("buffer-list"),
    joinForm: $("join-form"),
    joinInput: $("join-input"),
    title: $("buffer-title"),
    topic: $("topic"),
    logs: $("logs"),
    inputForm: $("input-form"),
    input: $("input"),
    memberCount: $("member-count"),
    memberList: $("member-list"),
  };

  // -- state ----------------------------------------------------------------------------

  var me = {
    nick: "",
    account: null, // set once logged in (SASL 900 or REGISTER SUCCESS)
    password: "", // kept in memory only, to log in again after a failover
    registering: false, // this first connection registers the account (REGISTER)
    loggedInOnce: false, // the chat view is shown; failures from now on reconnect
  };
  var server = { chantypes: "#&", prefixes: "@+", historyMax: 100 };
  var buffers = new Map(); // casefolded name -> buffer
  var current = null; // the buffer shown
  var seen = new Set(); // every msgid shown (or deliberately skipped), in any buffer

  // The cluster: every node we know of, and which one we use now.
  var cluster = {
    nodes: [], // {id, url, leader}
    node: null, // the node of the current (or last) connection
    attempt: 0, // connection attempts since the last one that worked
    order: [], // the nodes to try in this round of attempts
    timer: null,
  };
  var conn = null; // the current connection, see connect()

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
    setStatus("reconnecting… (trying node " + nodeName(next.node) + ")", "warn");
    cluster.timer = setTimeout(function () {
      connect(next.node);
    }, next.wait);
  }

  // -- one connection -------------------------------------------------------------------

  // Opens a WebSocket to ``node`` and registers on it. Everything that belongs to one
  // connection lives in ``conn``; a new connection starts from a fresh one.
  function connect(node) {
    cluster.node = node;
    setStatus("connecting to node " + nodeName(node) + "…", "warn");
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
    conn = c;
    function lost() {
      if (c !== conn || c.dead) return;
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
      if (c === conn) startRegistration(c);
    };
    ws.onmessage = function (event) {
      if (c !== conn || c.dead) return;
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
    note(buffer(SERVER), "Leaving node " + nodeName(c.node) + ": " + why);
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
      if (!ui.loginError.textContent && cluster.attempt < cluster.nodes.length * 2) {
        scheduleReconnect();
      } else {
        showLogin(ui.loginError.textContent || "Cannot reach any node of the cluster.");
      }
      return;
    }
    if (c.fatal) return; // the server refused our login: do not hammer it
    if (c.registered) {
      // A connection that worked: start a fresh round, from the nodes known now.
      cluster.attempt = 0;
      cluster.order = failoverOrder(c.node);
    }
    note(buffer(SERVER), "Lost the connection to node " + nodeName(c.node) + ".");
    markBuffersDisconnected();
    scheduleReconnect();
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
    if (!me.loggedInOnce) ui.loginError.textContent = text;
    else note(buffer(SERVER), text);
    setStatus(text, "error");
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
    note(buffer(SERVER), "Login refused: " + msg.params[msg.params.length - 1]);
    abandon(c, "it refused the login");
  }

  function onWelcome(c, msg) {
    c.registered = true;
    c.reclaimed = /^Welcome back/.test(msg.params[1] || "");
    me.nick = msg.params[0];
    cluster.attempt = 0;
    cluster.order = failoverOrder(c.node);
    setStatus("connected to node " + nodeName(c.node), "ok");
    var refresh = function () {
      var home = c.node.url === sameOriginWebSocket();
      var sources = home ? ["nodes.json"] : [nodesUrl(c.node.url), "nodes.json"];
      refreshNodes(sources).then(function () {
        if (c === conn && !c.dead) setStatus("connected to node " + nodeName(cluster.node), "ok");
      });
    };
    refresh();
    c.timers.push(setInterval(refresh, NODES_REFRESH_MS)); // nodes come and go

    if (!me.registering) enterChat();
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
      if (c !== conn || c.dead) return;
      buffers.forEach(function (b) {
        if (b.kind === "channel" && b.wanted && !c.joinedHere.has(b.key)) send(c, "JOIN", [b.name]);
        if (b.kind === "query") catchUp(c, b);
      });
    };
    if (c.reclaimed) setTimeout(rejoin, 1500);
    else rejoin();
  }

  function onRegister(c, msg) {
    if (msg.command === "REGISTER" && msg.params[0] === "SUCCESS") {
      me.account = msg.params[1];
      me.registering = false; // from now on every login is by SASL
      enterChat();
      note(buffer(SERVER), "Account " + me.account + " registered; you are logged in.");
    } else if (msg.command === "FAIL" && msg.params[0] === "REGISTER") {
      fail(c, "Could not create the account: " + msg.params[msg.params.length - 1]);
    }
  }

  // -- what the server sends ------------------------------------------------------------

  function receive(c, msg) {
    var handler = HANDLERS[msg.command];
    if (handler) handler(c, msg);
    else if (/^[45]\d\d$/.test(msg.command)) showError(msg);
  }

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
      if (c.registered) return showError(msg);
      if (me.registering) return fail(c, "The nick " + me.nick + " is in use.");
      me.nick += "_"; // someone else has it; the reclaim needs the account's own nick
      send(c, "NICK", [me.nick]);
    },
    REGISTER: onRegister,
    FAIL: function (c, msg) {
      if (msg.params[0] === "REGISTER") onRegister(c, msg);
      else if (msg.params[0] === "CHATHISTORY") historyFailed(c, msg);
      else note(buffer(SERVER), msg.params.join(" "));
    },
    ERROR: function (c, msg) {
      note(buffer(SERVER), "Closing: " + (msg.params[0] || ""));
    },
    BATCH: onBatch,
    PRIVMSG: onMessage,
    NOTICE: onMessage,
    JOIN: onJoin,
    PART: onPart,
    KICK: onKick,
    QUIT: onQuit,
    NICK: onNick,
    AWAY: onAway,
    TOPIC: function (c, msg) {
      var b = buffers.get(IRC.casefold(msg.params[0]));
      if (!b) return;
      b.topic = msg.params[1] || "";
      addLine(b, msg, "event", "", IRC.nickOf(msg.source) + " set the topic: " + b.topic);
      if (b === current) renderTitle();
    },
    "332": function (c, msg) {
      var b = buffers.get(IRC.casefold(msg.params[1]));
      if (b) {
        b.topic = msg.params[2] || "";
        if (b === current) renderTitle();
      }
    },
    "353": onNames,
    "366": onNamesEnd,
    "352": onWho,
  };

  function onBatch(c, msg) {
    var ref = msg.params[0] || "";
    if (ref[0] === "+") {
      c.batches.set(ref.slice(1), { type: msg.params[1], target: msg.params[2], count: 0 });
    } else if (ref[0] === "-") {
      var batch = c.batches.get(ref.slice(1));
      c.batches.delete(ref.slice(1));
      if (batch && batch.type === "chathistory") historyDone(c, batch);
    }
  }

  // Which conversation a PRIVMSG or NOTICE belongs to: a channel (also "@#chan"),
  // the other side of a private one, or the server buffer (server and service notices).
  function conversationOf(c, msg, batch) {
    if (batch && batch.target) return batch.target;
    var target = msg.params[0] || "";
    var bare = target.replace(/^[~&@%+]+/, "");
    if (IRC.isChannel(bare, server.chantypes)) return bare;
    var from = IRC.nickOf(msg.source);
    var mine = IRC.casefold(from) === IRC.casefold(me.nick);
    if (mine) return target;
    if (msg.source.indexOf("!") < 0 || (msg.command === "NOTICE" && /serv$/i.test(from))) {
      return SERVER;
    }
    return from;
  }

  function onMessage(c, msg) {
    var batch = msg.tags.batch ? c.batches.get(msg.tags.batch) : null;
    if (batch) batch.count += 1;
    var name = conversationOf(c, msg, batch);
    var b = buffer(name);
    var from = IRC.nickOf(msg.source);
    var text = msg.params[msg.params.length - 1] || "";
    var action = IRC.actionText(text);
    if (text[0] === "\x01" && action === null) return; // other CTCP: not shown
    var kind = msg.command === "NOTICE" ? "notice" : action !== null ? "action" : "privmsg";
    var shown = addLine(b, msg, kind, from, action !== null ? action : text);
    if (shown && IRC.casefold(from) === IRC.casefold(me.nick)) confirmPending(b, text);
  }

  function onJoin(c, msg) {
    var nick = IRC.nickOf(msg.source);
    var b = buffer(msg.params[0]);
    if (IRC.casefold(nick) === IRC.casefold(me.nick)) {
      b.wanted = true;
      b.live = true;
      c.joinedHere.add(b.key);
      if (!current || current.kind === "server" || b.select) selectBuffer(b);
      b.select = false;
      var where = " (on node " + nodeName(c.node) + ")";
      addLine(b, msg, "event", "", (c.reclaimed ? "Back in " : "You are in ") + b.name + where);
      return;
    }
    b.members.set(IRC.casefold(nick), { nick: nick, prefix: "", away: false });
    addLine(b, msg, "event", "", nick + " joined");
    renderMembersIf(b);
  }

  function onPart(c, msg) {
    var nick = IRC.nickOf(msg.source);
    var b = buffers.get(IRC.casefold(msg.params[0]));
    if (!b) return;
    leaveOrRemove(b, nick, msg, nick + " left" + reason(msg.params[1]));
  }

  function onKick(c, msg) {
    var b = buffers.get(IRC.casefold(msg.params[0]));
    if (!b) return;
    var text = msg.params[1] + " was kicked by " + IRC.nickOf(msg.source) + reason(msg.params[2]);
    leaveOrRemove(b, msg.params[1], msg, text);
  }

  function leaveOrRemove(b, nick, msg, text) {
    if (IRC.casefold(nick) === IRC.casefold(me.nick)) {
      b.wanted = false;
      b.live = false;
      b.members.clear();
    } else {
      b.members.delete(IRC.casefold(nick));
    }
    addLine(b, msg, "event", "", text);
    renderMembersIf(b);
    renderBufferList();
  }

  function onQuit(c, msg) {
    var nick = IRC.nickOf(msg.source);
    eachChannelWith(nick, function (b) {
      b.members.delete(IRC.casefold(nick));
      addLine(b, msg, "event", "", nick + " quit" + reason(msg.params[0]));
    });
  }

  function onNick(c, msg) {
    var old = IRC.nickOf(msg.source);
    var now = msg.params[0];
    if (IRC.casefold(old) === IRC.casefold(me.nick)) me.nick = now;
    eachChannelWith(old, function (b) {
      var member = b.members.get(IRC.casefold(old));
      b.members.delete(IRC.casefold(old));
      member.nick = now;
      b.members.set(IRC.casefold(now), member);
      addLine(b, msg, "event", "", old + " is now known as " + now);
    });
  }

  function onAway(c, msg) {
    var nick = IRC.nickOf(msg.source);
    eachChannelWith(nick, function (b) {
      b.members.get(IRC.casefold(nick)).away = msg.params.length > 0;
      renderMembersIf(b);
    });
  }

  function eachChannelWith(nick, action) {
    var key = IRC.casefold(nick);
    buffers.forEach(function (b) {
      if (b.kind === "channel" && b.members.has(key)) {
        action(b);
        renderMembersIf(b);
      }
    });
  }

  function onNames(c, msg) {
    var key = IRC.casefold(msg.params[2]);
    var listing = c.names.get(key) || new Map();
    c.names.set(key, listing);
    (msg.params[3] || "").split(" ").forEach(function (word) {
      if (!word) return;
      var nick = word.replace(new RegExp("^[" + escapeClass(server.prefixes) + "]+"), "");
      var prefix = word.slice(0, word.length - nick.length);
      listing.set(IRC.casefold(nick), { nick: nick, prefix: prefix, away: false });
    });
  }

  // NAMES is complete: that is the channel's member list now. Then ask who is away
  // (WHO) and fill the conversation in from history.
  function onNamesEnd(c, msg) {
    var key = IRC.casefold(msg.params[1]);
    var b = buffers.get(key);
    var listing = c.names.get(key);
    c.names.delete(key);
    if (!b || !listing) return;
    listing.forEach(function (member, nick) {
      var before = b.members.get(nick);
      if (before) member.away = before.away;
    });
    b.members = listing;
    renderMembersIf(b);
    send(c, "WHO", [b.name]);
    catchUp(c, b);
  }

  function onWho(c, msg) {
    var b = buffers.get(IRC.casefold(msg.params[1]));
    var member = b && b.members.get(IRC.casefold(msg.params[5]));
    if (!member) return;
    member.away = (msg.params[6] || "")[0] === "G";
    renderMembersIf(b);
  }

  function showError(msg) {
    var text = msg.params.slice(1).join(" ");
    note(current && current.kind !== "server" ? current : buffer(SERVER), text);
  }

  function reason(text) {
    return text ? " (" + text + ")" : "";
  }

  function escapeClass(chars) {
    return chars.replace(/[\]\\^-]/g, "\\$&");
  }

  // -- history: what we missed ----------------------------------------------------------

  // Fill a conversation in on this connection: AFTER the last msgid it shows (what we
  // missed while away), or its LATEST lines when it shows none yet.
  function catchUp(c, b) {
    if (!c.caps.has("draft/chathistory") || c.caughtUp.has(b.key) || b.kind === "server") return;
    c.caughtUp.add(b.key);
    requestHistory(c, b);
  }

  function requestHistory(c, b) {
    var last = b.lastMsgid();
    b.historyAsked = last ? "after" : "latest";
    b.afterRef = last ? "msgid=" + last : null;
    if (last) send(c, "CHATHISTORY", ["AFTER", b.name, b.afterRef, String(server.historyMax)]);
    else send(c, "CHATHISTORY", ["LATEST", b.name, "*", String(HISTORY_ON_JOIN)]);
  }

  // A full page AFTER our last msgid may have more behind it: ask for the next one.
  function historyDone(c, batch) {
    var b = buffers.get(IRC.casefold(batch.target || ""));
    if (!b) return;
    var asked = b.historyAsked;
    b.historyAsked = null;
    if (asked === "after" && batch.count >= server.historyMax) requestHistory(c, b);
    else failPending(b, c);
  }

  // The msgid we asked after is no longer kept (history is bounded): take the latest.
  // The FAIL names the reference it refused (INVALID_PARAMS msgid=...), not the target.
  function historyFailed(c, msg) {
    buffers.forEach(function (b) {
      if (b.historyAsked === "after" && b.afterRef === msg.params[2]) {
        b.historyAsked = "latest";
        send(c, "CHATHISTORY", ["LATEST", b.name, "*", String(server.historyMax)]);
      }
    });
  }

  // -- conversations (buffers) ----------------------------------------------------------

  // The buffer called ``name``, made on first use. Its lines are kept in log order
  // (IRC.orderKey), each message once (by msgid).
  function buffer(name) {
    var key = name === SERVER ? SERVER : IRC.casefold(name);
    var b = buffers.get(key);
    if (b) return b;
    var kind = "query";
    if (name === SERVER) kind = "server";
    else if (IRC.isChannel(name, server.chantypes)) kind = "channel";
    var log = document.createElement("ol");
    log.className = "log";
    log.dataset.target = kind === "server" ? "" : name;
    log.hidden = true;
    ui.logs.appendChild(log);
    b = {
      key: key,
      name: name === SERVER ? "Server" : name,
      kind: kind,
      log: log,
      entries: [], // {key, el, msgid}, sorted by key
      pending: [], // own lines sent, not yet echoed: {text, el}
      members: new Map(),
      topic: "",
      wanted: false, // a channel we mean to be in (rejoined after a failover)
      live: false,
      unread: 0,
      historyAsked: null,
    };
    // The newest msgid this conversation shows: where CHATHISTORY AFTER starts.
    b.lastMsgid = function () {
      for (var i = b.entries.length - 1; i >= 0; i--) {
        if (b.entries[i].msgid && b.entries[i].message) return b.entries[i].msgid;
      }
      return null;
    };
    buffers.set(key, b);
    renderBufferList();
    return b;
  }

  // Show one line at its place. A msgid already shown is dropped: the replay after a
  // reclaim, CHATHISTORY and the live stream may all bring the same message.
  function addLine(b, msg, kind, nick, text) {
    var msgid = msg.tags.msgid;
    if (msgid) {
      if (seen.has(msgid)) return false;
      seen.add(msgid);
    }
    var key = IRC.orderKey(msg, Date.now());
    var entry = {
      key: key,
      msgid: msgid,
      message: kind === "privmsg" || kind === "notice" || kind === "action",
      el: lineElement(msg, kind, nick, text),
    };
    var at = b.entries.length;
    while (at > 0 && IRC.compareKeys(b.entries[at - 1].key, key) > 0) at--;
    var stuck = isScrolledDown(b);
    b.log.insertBefore(entry.el, at < b.entries.length ? b.entries[at].el : firstPending(b));
    b.entries.splice(at, 0, entry);
    if (b !== current && entry.message) {
      b.unread += 1;
      renderBufferList();
    }
    if (stuck) b.log.scrollTop = b.log.scrollHeight;
    return true;
  }

  // A line of ours, not the server's (connection notes): shown now, at the end.
  function note(b, text) {
    addLine(b, { tags: {}, source: "", params: [] }, "note", "", text);
  }

  function firstPending(b) {
    return b.pending.length ? b.pending[0].el : null;
  }

  function lineElement(msg, kind, nick, text) {
    var li = document.createElement("li");
    li.className = "msg " + kind;
    if (msg.tags.msgid) li.dataset.msgid = msg.tags.msgid;
    var time = document.createElement("time");
    var when = msg.tags.time ? new Date(msg.tags.time) : new Date();
    time.dateTime = when.toISOString();
    time.textContent = pad(when.getHours()) + ":" + pad(when.getMinutes());
    time.title = when.toLocaleString();
    li.appendChild(time);
    if (nick) {
      var who = document.createElement("span");
      who.className = "nick";
      who.textContent = { action: "* " + nick, notice: "-" + nick + "-" }[kind] || nick;
      who.style.color = nickColour(nick);
      li.appendChild(who);
    }
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text; // never innerHTML: this is what someone else typed
    li.appendChild(body);
    return li;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // A stable colour per nick, so a conversation is easy to follow: FNV-1a, then mixed
  // again so that similar nicks still get hues far apart.
  function nickColour(nick) {
    var folded = IRC.casefold(nick);
    var h = 0x811c9dc5;
    for (var i = 0; i < folded.length; i++) h = Math.imul(h ^ folded.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h ^= h >>> 12;
    return "hsl(" + ((h >>> 0) % 360) + ", 60%, 36%)";
  }

  function isScrolledDown(b) {
    return b.log.scrollHeight - b.log.scrollTop - b.log.clientHeight < 40;
  }

  // Own lines are shown greyed until their echo (with its msgid) comes back.
  function addPending(b, text) {
    var el = lineElement({ tags: {} }, "privmsg pending", me.nick, text);
    el.title = "sending…";
    b.log.appendChild(el);
    b.pending.push({ text: text, el: el, conn: conn });
    b.log.scrollTop = b.log.scrollHeight;
  }

  function confirmPending(b, text) {
    for (var i = 0; i < b.pending.length; i++) {
      if (b.pending[i].text === text) {
        b.log.removeChild(b.pending[i].el);
        b.pending.splice(i, 1);
        return;
      }
    }
  }

  // Caught up on connection ``c`` and still no echo of a line sent on an earlier one:
  // that line never reached the log.
  function failPending(b, c) {
    b.pending.forEach(function (p) {
      if (p.conn === c || p.el.classList.contains("unsent")) return;
      p.el.classList.add("unsent");
      p.el.title = "not sent: the node went away before it took this line";
    });
  }

  function markBuffersDisconnected() {
    buffers.forEach(function (b) {
      b.pending.forEach(function (p) {
        p.el.title = "waiting for the connection…";
      });
    });
  }

  // -- rendering ------------------------------------------------------------------------

  function selectBuffer(b) {
    if (current) current.log.hidden = true;
    current = b;
    b.log.hidden = false;
    b.unread = 0;
    b.log.scrollTop = b.log.scrollHeight;
    renderTitle();
    renderMembers();
    renderBufferList();
    ui.input.focus();
  }

  function renderTitle() {
    ui.title.textContent = current ? current.name : "";
    ui.topic.textContent = current && current.topic ? current.topic : "";
  }

  function renderBufferList() {
    var items = Array.from(buffers.values()).sort(function (a, b) {
      var rank = { server: 0, channel: 1, query: 2 };
      return rank[a.kind] - rank[b.kind] || (a.key < b.key ? -1 : 1);
    });
    ui.bufferList.replaceChildren.apply(ui.bufferList, items.map(bufferItem));
  }

  function bufferItem(b) {
    var li = document.createElement("li");
    li.className = b.kind;
    if (b === current) li.classList.add("current");
    if (b.kind === "channel" && !b.wanted) li.classList.add("parted");
    li.dataset.target = b.kind === "server" ? "" : b.name;
    li.textContent = b.name;
    if (b.unread) {
      var badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(b.unread);
      li.appendChild(badge);
    }
    li.addEventListener("click", function () {
      selectBuffer(b);
    });
    return li;
  }

  function renderMembersIf(b) {
    if (b === current) renderMembers();
  }

  // Operators first, then voiced users, then everyone else; by nick within each.
  function renderMembers() {
    var members = current && current.kind === "channel" ? Array.from(current.members.values()) : [];
    var rank = function (m) {
      var i = server.prefixes.indexOf(m.prefix[0]);
      return m.prefix ? i : server.prefixes.length;
    };
    members.sort(function (a, b) {
      return rank(a) - rank(b) || (IRC.casefold(a.nick) < IRC.casefold(b.nick) ? -1 : 1);
    });
    var channel = current && current.kind === "channel";
    ui.memberCount.textContent = channel ? members.length + " online" : "";
    ui.memberList.replaceChildren.apply(ui.memberList, members.map(memberItem));
  }

  function memberItem(m) {
    var li = document.createElement("li");
    li.className = "member" + (m.away ? " away" : "");
    li.dataset.nick = m.nick;
    li.title = m.away ? m.nick + " is away" : "Talk to " + m.nick + " privately";
    var prefix = document.createElement("span");
    prefix.className = "prefix";
    prefix.textContent = m.prefix.slice(0, 1);
    li.appendChild(prefix);
    li.appendChild(document.createTextNode(m.nick));
    li.addEventListener("click", function () {
      openQuery(m.nick);
    });
    return li;
  }

  function setStatus(text, level) {
    ui.status.textContent = text;
    ui.status.className = "status " + (level || "");
  }

  function enterChat() {
    if (me.loggedInOnce) return;
    me.loggedInOnce = true;
    ui.login.hidden = true;
    ui.chat.hidden = false;
    selectBuffer(buffer(SERVER));
  }

  function showLogin(error) {
    ui.login.hidden = false;
    ui.chat.hidden = true;
    ui.loginError.textContent = error || "";
    setStatus("not connected", "error");
  }

  // -- what the user types --------------------------------------------------------------

  function openQuery(nick) {
    var b = buffer(nick);
    selectBuffer(b);
    catchUp(conn, b);
  }

  function say(b, text) {
    if (!b || b.kind === "server") return note(buffer(SERVER), "Pick a channel or a person first.");
    if (!send(conn, "PRIVMSG", [b.name, text])) {
      return note(b, "Not connected right now; that line was not sent.");
    }
    // With echo-message the server sends our line back with its msgid, at its place in
    // the log; without it (never here, but cheap) it is shown as sent.
    if (conn.caps.has("echo-message")) addPending(b, text);
    else addLine(b, { tags: {}, source: me.nick, params: [] }, "privmsg", me.nick, text);
  }

  var COMMANDS = {
    join: function (args) {
      var name = args[0] || "";
      if (!IRC.isChannel(name, server.chantypes)) name = "#" + name;
      buffer(name).select = true;
      send(conn, "JOIN", [name].concat(args.slice(1, 2)));
    },
    part: function (args, rest) {
      var name = args[0] && IRC.isChannel(args[0], server.chantypes) ? args[0] : current.name;
      send(conn, "PART", [name, rest.replace(name, "").trim() || "bye"]);
    },
    msg: function (args) {
      var b = buffer(args[0]);
      say(b, args.slice(1).join(" "));
      selectBuffer(b);
    },
    query: function (args) {
      openQuery(args[0]);
    },
    me: function (args, rest) {
      say(current, "\x01ACTION " + rest + "\x01");
    },
    nick: function (args) {
      send(conn, "NICK", [args[0]]);
    },
    away: function (args, rest) {
      send(conn, "AWAY", rest ? [rest] : []);
    },
    topic: function (args, rest) {
      send(conn, "TOPIC", [current.name, rest]);
    },
    quote: function (args, rest) {
      sendLine(conn, rest);
    },
  };

  function onInput(text) {
    if (text[0] !== "/") return say(current, text);
    if (text[1] === "/") return say(current, text.slice(1)); // "//" starts a line with "/"
    var space = text.indexOf(" ");
    var name = text.slice(1, space < 0 ? text.length : space).toLowerCase();
    var rest = space < 0 ? "" : text.slice(space + 1).trim();
    var command = COMMANDS[name];
    if (!command) return note(current || buffer(SERVER), "Unknown command /" + name);
    command(rest ? rest.split(/\s+/) : [], rest);
  }

  // -- start ----------------------------------------------------------------------------

  function start(mode) {
    me.nick = ui.loginNick.value.trim();
    me.password = ui.loginPassword.value;
    me.registering = mode === "register";
    ui.loginError.textContent = "";
    if (!me.nick || !me.password) return;
    cluster.attempt = 0;
    var home = findNode(sameOriginWebSocket()) || { id: location.host, url: sameOriginWebSocket() };
    cluster.order = [home].concat(failoverOrder(home).slice(0, -1));
    cluster.attempt = 1;
    connect(home);
  }

  ui.loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    start(event.submitter && event.submitter.value === "register" ? "register" : "login");
  });
  ui.joinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = ui.joinInput.value.trim();
    if (name) COMMANDS.join([name]);
    ui.joinInput.value = "";
  });
  ui.inputForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = ui.input.value;
    ui.input.value = "";
    if (text.trim()) onInput(text);
  });

  setStatus("not connected");
  refreshNodes(["nodes.json"]).then(function (answer) {
    if (answer && answer.self) setStatus("not connected (node " + answer.self + ")");
  });
})();
