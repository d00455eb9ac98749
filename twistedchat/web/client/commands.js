// What the user types: a line to the conversation shown, or a command (/join, /part,
// /msg, /query, /me, /nick, /away, /topic, /quote).
"use strict";

(function (tc) {
  var commands = tc.commands;
  var view = tc.view;
  var conversations = tc.conversations;
  var connection = tc.connection;
  var SERVER = tc.SERVER;
  var me = tc.me;
  var server = tc.server;

  function openQuery(nick) {
    var b = conversations.buffer(nick);
    view.selectBuffer(b);
    conversations.catchUp(tc.conn, b);
  }

  function say(b, text) {
    if (!b || b.kind === "server") {
      return conversations.note(conversations.buffer(SERVER), "Pick a channel or a person first.");
    }
    if (!connection.send(tc.conn, "PRIVMSG", [b.name, text])) {
      return conversations.note(b, "Not connected right now; that line was not sent.");
    }
    // With echo-message the server sends our line back with its msgid, at its place in
    // the log; without it (never here, but cheap) it is shown as sent.
    if (tc.conn.caps.has("echo-message")) {
      conversations.addPending(b, text);
    } else {
      conversations.addLine(b, { tags: {}, source: me.nick, params: [] }, "privmsg", me.nick, text);
    }
  }

  var COMMANDS = {
    join: function (args) {
      var name = args[0] || "";
      if (!IRC.isChannel(name, server.chantypes)) name = "#" + name;
      conversations.buffer(name).select = true;
      connection.send(tc.conn, "JOIN", [name].concat(args.slice(1, 2)));
    },
    part: function (args, rest) {
      var name = args[0] && IRC.isChannel(args[0], server.chantypes) ? args[0] : tc.current.name;
      connection.send(tc.conn, "PART", [name, rest.replace(name, "").trim() || "bye"]);
    },
    msg: function (args) {
      var b = conversations.buffer(args[0]);
      say(b, args.slice(1).join(" "));
      view.selectBuffer(b);
    },
    query: function (args) {
      openQuery(args[0]);
    },
    me: function (args, rest) {
      say(tc.current, "\x01ACTION " + rest + "\x01");
    },
    nick: function (args) {
      connection.send(tc.conn, "NICK", [args[0]]);
    },
    away: function (args, rest) {
      connection.send(tc.conn, "AWAY", rest ? [rest] : []);
    },
    topic: function (args, rest) {
      connection.send(tc.conn, "TOPIC", [tc.current.name, rest]);
    },
    quote: function (args, rest) {
      connection.sendLine(tc.conn, rest);
    },
  };

  function onInput(text) {
    if (text[0] !== "/") return say(tc.current, text);
    if (text[1] === "/") return say(tc.current, text.slice(1)); // "//" starts a line with "/"
    var space = text.indexOf(" ");
    var name = text.slice(1, space < 0 ? text.length : space).toLowerCase();
    var rest = space < 0 ? "" : text.slice(space + 1).trim();
    var command = COMMANDS[name];
    if (!command) {
      var b = tc.current || conversations.buffer(SERVER);
      return conversations.note(b, "Unknown command /" + name);
    }
    command(rest ? rest.split(/\s+/) : [], rest);
  }

  Object.assign(commands, {
    openQuery: openQuery,
    join: COMMANDS.join,
    onInput: onInput,
  });
})(window.twistedchat);
