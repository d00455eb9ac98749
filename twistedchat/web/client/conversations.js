// The conversations (buffers): each one's lines, kept in the log's order and each
// message once (by msgid), own lines shown until their echo comes back, and filling a
// conversation in from history (CHATHISTORY) with what we missed.
"use strict";

(function (tc) {
  var conversations = tc.conversations;
  var view = tc.view;
  var connection = tc.connection;
  var SERVER = tc.SERVER;
  var me = tc.me;
  var server = tc.server;
  var buffers = tc.buffers;

  var HISTORY_ON_JOIN = 50; // lines of history shown when a conversation is opened

  // A tab left open for days must not grow without bound: a conversation keeps its last
  // MAX_LINES lines, and the msgids remembered (to show each message once) are the last
  // MAX_SEEN; catch-ups only ever bring what is newer than a conversation's last line.
  var MAX_LINES = 2000;
  var MAX_SEEN = 20000;
  var seen = new Set(); // msgids shown (or deliberately skipped), in any buffer, in order

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
    var log = view.logElement(kind, name);
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
    view.renderBufferList();
    return b;
  }

  // Show one line at its place. A msgid already shown is dropped: the replay after a
  // reclaim, CHATHISTORY and the live stream may all bring the same message.
  function addLine(b, msg, kind, nick, text) {
    var msgid = msg.tags.msgid;
    if (msgid) {
      if (seen.has(msgid)) return false;
      seen.add(msgid);
      if (seen.size > MAX_SEEN) seen.delete(seen.values().next().value);
    }
    var key = IRC.orderKey(msg, Date.now());
    var entry = {
      key: key,
      msgid: msgid,
      message: kind === "privmsg" || kind === "notice" || kind === "action",
      el: view.lineElement(msg, kind, nick, text),
    };
    var at = b.entries.length;
    while (at > 0 && IRC.compareKeys(b.entries[at - 1].key, key) > 0) at--;
    var stuck = view.isScrolledDown(b);
    b.log.insertBefore(entry.el, at < b.entries.length ? b.entries[at].el : firstPending(b));
    b.entries.splice(at, 0, entry);
    if (b.entries.length > MAX_LINES) b.log.removeChild(b.entries.shift().el);
    if (b !== tc.current && entry.message) {
      b.unread += 1;
      view.renderBufferList();
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

  // Own lines are shown greyed until their echo (with its msgid) comes back.
  function addPending(b, text) {
    var el = view.lineElement({ tags: {} }, "privmsg pending", me.nick, text);
    el.title = "sending…";
    b.log.appendChild(el);
    b.pending.push({ text: text, el: el, conn: tc.conn });
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
    if (last) {
      connection.send(c, "CHATHISTORY", ["AFTER", b.name, b.afterRef, String(server.historyMax)]);
    } else {
      connection.send(c, "CHATHISTORY", ["LATEST", b.name, "*", String(HISTORY_ON_JOIN)]);
    }
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
        connection.send(c, "CHATHISTORY", ["LATEST", b.name, "*", String(server.historyMax)]);
      }
    });
  }

  Object.assign(conversations, {
    buffer: buffer,
    addLine: addLine,
    note: note,
    addPending: addPending,
    confirmPending: confirmPending,
    markBuffersDisconnected: markBuffersDisconnected,
    catchUp: catchUp,
    historyDone: historyDone,
    historyFailed: historyFailed,
  });
})(window.twistedchat);
