// What the server says about conversations: messages and notices (in batches too),
// joins, parts, kicks, quits, nick and away changes, topics, and NAMES and WHO for the
// nick lists. connection.js hands these lines over (events.HANDLERS).
"use strict";

(function (tc) {
  var events = tc.events;
  var view = tc.view;
  var conversations = tc.conversations;
  var connection = tc.connection;
  var SERVER = tc.SERVER;
  var me = tc.me;
  var server = tc.server;
  var buffers = tc.buffers;

  // The lines about conversations, by command.
  var HANDLERS = {
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
      var text = IRC.nickOf(msg.source) + " set the topic: " + b.topic;
      conversations.addLine(b, msg, "event", "", text);
      if (b === tc.current) view.renderTitle();
    },
    "332": function (c, msg) {
      var b = buffers.get(IRC.casefold(msg.params[1]));
      if (b) {
        b.topic = msg.params[2] || "";
        if (b === tc.current) view.renderTitle();
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
      if (batch && batch.type === "chathistory") conversations.historyDone(c, batch);
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
    var b = conversations.buffer(name);
    var from = IRC.nickOf(msg.source);
    var text = msg.params[msg.params.length - 1] || "";
    var action = IRC.actionText(text);
    if (text[0] === "\x01" && action === null) return; // other CTCP: not shown
    var kind = msg.command === "NOTICE" ? "notice" : action !== null ? "action" : "privmsg";
    var shown = conversations.addLine(b, msg, kind, from, action !== null ? action : text);
    var mine = IRC.casefold(from) === IRC.casefold(me.nick);
    if (shown && mine) conversations.confirmPending(b, text);
  }

  function onJoin(c, msg) {
    var nick = IRC.nickOf(msg.source);
    var b = conversations.buffer(msg.params[0]);
    if (IRC.casefold(nick) === IRC.casefold(me.nick)) {
      b.wanted = true;
      b.live = true;
      c.joinedHere.add(b.key);
      if (!tc.current || tc.current.kind === "server" || b.select) view.selectBuffer(b);
      b.select = false;
      var where = " (on node " + connection.nodeName(c.node) + ")";
      var text = (c.reclaimed ? "Back in " : "You are in ") + b.name + where;
      conversations.addLine(b, msg, "event", "", text);
      return;
    }
    b.members.set(IRC.casefold(nick), { nick: nick, prefix: "", away: false });
    conversations.addLine(b, msg, "event", "", nick + " joined");
    view.renderMembersIf(b);
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
    conversations.addLine(b, msg, "event", "", text);
    view.renderMembersIf(b);
    view.renderBufferList();
  }

  function onQuit(c, msg) {
    var nick = IRC.nickOf(msg.source);
    eachChannelWith(nick, function (b) {
      b.members.delete(IRC.casefold(nick));
      conversations.addLine(b, msg, "event", "", nick + " quit" + reason(msg.params[0]));
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
      conversations.addLine(b, msg, "event", "", old + " is now known as " + now);
    });
  }

  function onAway(c, msg) {
    var nick = IRC.nickOf(msg.source);
    eachChannelWith(nick, function (b) {
      b.members.get(IRC.casefold(nick)).away = msg.params.length > 0;
      view.renderMembersIf(b);
    });
  }

  function eachChannelWith(nick, action) {
    var key = IRC.casefold(nick);
    buffers.forEach(function (b) {
      if (b.kind === "channel" && b.members.has(key)) {
        action(b);
        view.renderMembersIf(b);
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
    view.renderMembersIf(b);
    connection.send(c, "WHO", [b.name]);
    conversations.catchUp(c, b);
  }

  function onWho(c, msg) {
    var b = buffers.get(IRC.casefold(msg.params[1]));
    var member = b && b.members.get(IRC.casefold(msg.params[5]));
    if (!member) return;
    member.away = (msg.params[6] || "")[0] === "G";
    view.renderMembersIf(b);
  }

  // An error numeric (4xx, 5xx): shown in the conversation on screen, else the server's.
  function showError(msg) {
    var text = msg.params.slice(1).join(" ");
    var current = tc.current;
    var b = current && current.kind !== "server" ? current : conversations.buffer(SERVER);
    conversations.note(b, text);
  }

  function reason(text) {
    return text ? " (" + text + ")" : "";
  }

  function escapeClass(chars) {
    return chars.replace(/[\]\\^-]/g, "\\$&");
  }

  Object.assign(events, {
    HANDLERS: HANDLERS,
    showError: showError,
  });
})(window.twistedchat);
