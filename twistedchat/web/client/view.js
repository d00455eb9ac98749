// The page: its elements, the list of conversations, a conversation's lines, title and
// members, the status line and the login form. Nothing here talks to the network.
//
// Nothing from the network is ever put in the page as HTML: text goes in by
// textContent only.
"use strict";

(function (tc) {
  var view = tc.view;
  var conversations = tc.conversations;
  var commands = tc.commands;
  var me = tc.me;
  var server = tc.server;
  var buffers = tc.buffers;

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

  // -- lines ----------------------------------------------------------------------------

  // The list a conversation's lines go in, hidden until the conversation is shown.
  function logElement(kind, name) {
    var log = document.createElement("ol");
    log.className = "log";
    log.dataset.target = kind === "server" ? "" : name;
    log.hidden = true;
    ui.logs.appendChild(log);
    return log;
  }

  function lineElement(msg, kind, nick, text) {
    var li = document.createElement("li");
    li.className = "msg " + kind;
    if (msg.tags.msgid) li.dataset.msgid = msg.tags.msgid;
    var time = document.createElement("time");
    var when = new Date(msg.tags.time || Date.now());
    if (isNaN(when.getTime())) when = new Date(); // a time tag we cannot read
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

  // -- rendering ------------------------------------------------------------------------

  function selectBuffer(b) {
    if (tc.current) tc.current.log.hidden = true;
    tc.current = b;
    b.log.hidden = false;
    b.unread = 0;
    b.log.scrollTop = b.log.scrollHeight;
    renderTitle();
    renderMembers();
    renderBufferList();
    ui.input.focus();
  }

  function renderTitle() {
    var current = tc.current;
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
    if (b === tc.current) li.classList.add("current");
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
    if (b === tc.current) renderMembers();
  }

  // Operators first, then voiced users, then everyone else; by nick within each.
  function renderMembers() {
    var current = tc.current;
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
      commands.openQuery(m.nick);
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
    selectBuffer(conversations.buffer(tc.SERVER));
  }

  function showLogin(error) {
    ui.login.hidden = false;
    ui.chat.hidden = true;
    ui.loginError.textContent = error || "";
    setStatus("not connected", "error");
  }

  Object.assign(view, {
    ui: ui,
    logElement: logElement,
    lineElement: lineElement,
    isScrolledDown: isScrolledDown,
    selectBuffer: selectBuffer,
    renderTitle: renderTitle,
    renderBufferList: renderBufferList,
    renderMembersIf: renderMembersIf,
    setStatus: setStatus,
    enterChat: enterChat,
    showLogin: showLogin,
  });
})(window.twistedchat);
