// The start: the page's forms wired to the rest, and a first look at /nodes.json (the
// nodes to fail over to, and which one served the page). Loaded last: every part of
// window.twistedchat is there by now.
"use strict";

(function (tc) {
  var view = tc.view;
  var connection = tc.connection;
  var commands = tc.commands;
  var me = tc.me;
  var ui = view.ui;

  function start(mode) {
    me.nick = ui.loginNick.value.trim();
    me.password = ui.loginPassword.value;
    me.registering = mode === "register";
    ui.loginError.textContent = "";
    if (!me.nick || !me.password) return;
    connection.connectHome();
  }

  ui.loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    start(event.submitter && event.submitter.value === "register" ? "register" : "login");
  });
  ui.joinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = ui.joinInput.value.trim();
    if (name) commands.join([name]);
    ui.joinInput.value = "";
  });
  ui.inputForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = ui.input.value;
    ui.input.value = "";
    if (text.trim()) commands.onInput(text);
  });

  view.setStatus("not connected");
  connection.refreshNodes(["nodes.json"]).then(function (answer) {
    if (answer && answer.self) view.setStatus("not connected (node " + answer.self + ")");
  });
})(window.twistedchat);
