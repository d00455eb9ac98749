// The IRC side of the web client with no I/O and no page: parsing and writing lines,
// nick casemapping, SASL PLAIN, and the order messages are shown in. The other files
// do the rest (state.js lists them). Everything here is a pure function, so it is easy
// to read and to check.
//
// A classic script (no ES module): the node serves these files as it likes, and a
// module would be refused by the browser if they came with a non-JavaScript MIME type.
"use strict";

var IRC = (function () {
  // IRCv3 message-tags escapes a tag value; these undo it (a lone trailing "\" drops).
  var TAG_UNESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

  function unescapeTag(value) {
    return value.replace(/\\(.?)/g, function (_, c) {
      return c === "" ? "" : TAG_UNESCAPES[c] || c;
    });
  }

  // One line as {tags, source, command, params}; the source is the whole prefix
  // ("nick!user@host" or a server name), params include the trailing one.
  function parse(line) {
    var msg = { tags: {}, source: "", command: "", params: [] };
    var rest = line.replace(/[\r\n]+$/, "");
    if (rest[0] === "@") {
      var end = rest.indexOf(" ");
      rest.slice(1, end < 0 ? rest.length : end).split(";").forEach(function (pair) {
        if (!pair) return;
        var eq = pair.indexOf("=");
        if (eq < 0) msg.tags[pair] = "";
        else msg.tags[pair.slice(0, eq)] = unescapeTag(pair.slice(eq + 1));
      });
      rest = end < 0 ? "" : rest.slice(end + 1);
    }
    rest = rest.replace(/^ +/, "");
    if (rest[0] === ":") {
      var space = rest.indexOf(" ");
      msg.source = rest.slice(1, space < 0 ? rest.length : space);
      rest = space < 0 ? "" : rest.slice(space + 1);
    }
    while (rest.length) {
      rest = rest.replace(/^ +/, "");
      if (!rest.length) break;
      if (rest[0] === ":") {
        msg.params.push(rest.slice(1));
        break;
      }
      var next = rest.indexOf(" ");
      var word = next < 0 ? rest : rest.slice(0, next);
      if (!msg.command) msg.command = word.toUpperCase();
      else msg.params.push(word);
      rest = next < 0 ? "" : rest.slice(next + 1);
    }
    return msg;
  }

  // A line to send: the last parameter becomes a trailing one when it has to be. CR, LF
  // and NUL can never be part of a line, so they are dropped rather than let through
  // (a user pasting two lines must not smuggle a second command).
  function format(command, params) {
    var clean = (params || []).map(function (p) {
      return String(p).replace(/[\r\n\0]/g, " ");
    });
    var last = clean.length - 1;
    var tail = clean[last];
    if (last >= 0 && (tail === "" || tail.indexOf(" ") >= 0 || tail[0] === ":")) {
      clean[last] = ":" + tail;
    }
    return [command].concat(clean).join(" ");
  }

  function nickOf(source) {
    var bang = source.indexOf("!");
    return bang < 0 ? source : source.slice(0, bang);
  }

  // CASEMAPPING=rfc1459, as the server says: []\~ are the upper case of {}|^.
  function casefold(name) {
    return String(name).toLowerCase().replace(/[\[\]\\~]/g, function (c) {
      return { "[": "{", "]": "}", "\\": "|", "~": "^" }[c];
    });
  }

  function isChannel(name, chantypes) {
    return (chantypes || "#&").indexOf(String(name)[0]) >= 0;
  }

  // The AUTHENTICATE parameters answering a PLAIN challenge: base64 of
  // "account\0account\0password" (UTF-8) in 400-byte chunks, "+" after a full last chunk.
  function saslPlain(account, password) {
    var bytes = new TextEncoder().encode(account + "\0" + account + "\0" + password);
    var binary = "";
    bytes.forEach(function (b) {
      binary += String.fromCharCode(b);
    });
    var encoded = btoa(binary);
    var chunks = [];
    for (var i = 0; i < encoded.length; i += 400) chunks.push(encoded.slice(i, i + 400));
    if (encoded.length % 400 === 0) chunks.push("+");
    return chunks;
  }

  // Where a message goes in its conversation. The log's time never goes backwards
  // (decision 0020), so time orders messages as the log does; twistedchat's msgids are
  // "<log index hex>-<n>" and break ties within a millisecond. A msgid of another form
  // (or none) sorts by time alone. Returns [ms, index, n] for compareKeys.
  function orderKey(msg, fallbackMs) {
    var ms = msg.tags.time ? Date.parse(msg.tags.time) : NaN;
    if (isNaN(ms)) ms = fallbackMs;
    var match = /^([0-9a-f]+)-([0-9]+)$/.exec(msg.tags.msgid || "");
    return match ? [ms, parseInt(match[1], 16), parseInt(match[2], 10)] : [ms, 0, 0];
  }

  function compareKeys(a, b) {
    for (var i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  }

  // "CAP * LS :a b=c d" words as {a: "", b: "c", d: ""}.
  function capList(text) {
    var caps = {};
    text.split(" ").forEach(function (word) {
      if (!word) return;
      var eq = word.indexOf("=");
      caps[eq < 0 ? word : word.slice(0, eq)] = eq < 0 ? "" : word.slice(eq + 1);
    });
    return caps;
  }

  // A CTCP ACTION ("/me"): the text inside "\x01ACTION ...\x01", else null.
  function actionText(text) {
    var match = /^\x01ACTION (.*?)\x01?$/.exec(text);
    return match ? match[1] : null;
  }

  return {
    parse: parse,
    format: format,
    nickOf: nickOf,
    casefold: casefold,
    isChannel: isChannel,
    saslPlain: saslPlain,
    orderKey: orderKey,
    compareKeys: compareKeys,
    capList: capList,
    actionText: actionText,
  };
})();
