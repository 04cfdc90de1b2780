/* The console's JSON editor: checks the document as you type, says where it
 * breaks (line and column), formats it (the Format button, Ctrl+Shift+F, a paste
 * of a whole document) and keeps the indentation when you press Enter.
 *
 * It enhances <textarea data-json-editor>: without JavaScript the textarea
 * works alone and the server checks the JSON on save, naming the rule. Nothing
 * here is fetched from anywhere; no library.
 */
(function () {
  "use strict";

  var INDENT = "  ";
  var QUICK_CHECK_CHARS = 1000000; // check on every pause below this size

  function Checker(text) {
    this.text = text;
    this.at = 0;
  }

  Checker.prototype.fail = function (message) {
    var error = new Error(message);
    error.position = this.at;
    throw error;
  };

  Checker.prototype.space = function () {
    var t = this.text;
    while (this.at < t.length && " \t\n\r".indexOf(t[this.at]) !== -1) this.at++;
  };

  Checker.prototype.value = function (depth) {
    if (depth > 100) this.fail("nested deeper than 100 levels");
    this.space();
    var c = this.text[this.at];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    var words = ["true", "false", "null"];
    for (var i = 0; i < words.length; i++) {
      if (this.text.substr(this.at, words[i].length) === words[i]) {
        this.at += words[i].length;
        return;
      }
    }
    if (c === undefined) this.fail("the text ends where a value should be");
    if (this.text.substr(this.at, 3) === "NaN" || this.text.substr(this.at, 8) === "Infinity")
      this.fail("NaN and Infinity are not JSON numbers");
    if (c === "'") this.fail("strings take double quotes, not single");
    this.fail("unexpected " + JSON.stringify(c) + " where a value should be");
  };

  Checker.prototype.object = function (depth) {
    this.at++;
    this.space();
    if (this.text[this.at] === "}") { this.at++; return; }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') {
        if (this.text[this.at] === "}") this.fail("a comma before } is not JSON");
        this.fail("a key must be a string in double quotes");
      }
      this.string();
      this.space();
      if (this.text[this.at] !== ":") this.fail("expected : after the key");
      this.at++;
      this.value(depth + 1);
      this.space();
      var c = this.text[this.at];
      if (c === ",") { this.at++; continue; }
      if (c === "}") { this.at++; return; }
      this.fail("expected , or } after a value in an object");
    }
  };

  Checker.prototype.array = function (depth) {
    this.at++;
    this.space();
    if (this.text[this.at] === "]") { this.at++; return; }
    for (;;) {
      this.value(depth + 1);
      this.space();
      var c = this.text[this.at];
      if (c === ",") {
        this.at++;
        this.space();
        if (this.text[this.at] === "]") this.fail("a comma before ] is not JSON");
        continue;
      }
      if (c === "]") { this.at++; return; }
      this.fail("expected , or ] after a value in a list");
    }
  };

  Checker.prototype.string = function () {
    var t = this.text;
    this.at++;
    while (this.at < t.length) {
      var c = t[this.at];
      if (c === '"') { this.at++; return; }
      if (c === "\\") {
        var e = t[this.at + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(t.substr(this.at + 2, 4))) this.fail("\\u takes four hex digits");
          this.at += 6;
          continue;
        }
        if ('"\\/bfnrt'.indexOf(e) === -1 || e === undefined) this.fail("unknown escape \\" + (e || ""));
        this.at += 2;
        continue;
      }
      if (c < " ") this.fail("a line break or control character inside a string must be escaped");
      this.at++;
    }
    this.fail("the string is never closed");
  };

  Checker.prototype.number = function () {
    var match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.at, this.at + 400));
    if (!match || match[0] === "-") this.fail("malformed number");
    this.at += match[0].length;
  };

  /* Return null when text is a JSON object, else {message, position}. */
  function problem(text) {
    var value;
    try {
      value = JSON.parse(text);
    } catch (ignored) {
      var checker = new Checker(text);
      try {
        checker.value(0);
        checker.space();
        if (checker.at < text.length) checker.fail("text after the end of the document");
        return { message: "not JSON", position: 0 };
      } catch (error) {
        return { message: error.message, position: error.position };
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { message: "the document must be a JSON object ({…}), as ctx.store stores", position: 0 };
    }
    return null;
  }

  function lineAndColumn(text, position) {
    var before = text.slice(0, position).split("\n");
    return { line: before.length, column: before[before.length - 1].length + 1 };
  }

  function bytes(text) {
    var size = new Blob([text]).size;
    if (size < 1024) return size + " bytes";
    if (size < 1024 * 1024) return (size / 1024).toFixed(1) + " KB";
    return (size / 1024 / 1024).toFixed(1) + " MB";
  }

  function replaceAll(area, text) {
    area.focus();
    area.select();
    // insertText keeps the browser's undo history; setting value would drop it.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      area.value = text;
    }
  }

  function enhance(area) {
    var bar = document.createElement("div");
    bar.className = "json-editor-bar";
    var format = document.createElement("button");
    format.type = "button";
    format.className = "button";
    format.textContent = "Format";
    format.title = "Indent the JSON (Ctrl+Shift+F)";
    var status = document.createElement("span");
    status.className = "json-status";
    status.id = area.id + "-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var jump = document.createElement("button");
    jump.type = "button";
    jump.className = "button";
    jump.textContent = "Go to the error";
    jump.hidden = true;
    bar.appendChild(format);
    bar.appendChild(status);
    bar.appendChild(jump);
    area.parentNode.insertBefore(bar, area.nextSibling);
    var described = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (described ? described + " " : "") + status.id);

    var found = null;
    var timer = null;

    function check() {
      var text = area.value;
      found = problem(text);
      if (found) {
        var where = lineAndColumn(text, found.position);
        status.textContent = "Line " + where.line + ", column " + where.column + ": " + found.message;
        status.className = "json-status bad";
        area.setAttribute("aria-invalid", "true");
        jump.hidden = false;
      } else {
        var keys = Object.keys(JSON.parse(text)).length;
        status.textContent = "Valid JSON object: " + keys + " key" + (keys === 1 ? "" : "s") + ", " + bytes(text);
        status.className = "json-status ok";
        area.removeAttribute("aria-invalid");
        jump.hidden = true;
      }
      return found;
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(check, area.value.length > QUICK_CHECK_CHARS ? 800 : 200);
    }

    function formatNow() {
      if (check()) return;
      replaceAll(area, JSON.stringify(JSON.parse(area.value), null, 2));
      check();
    }

    function goToError() {
      if (!found) return;
      area.focus();
      area.setSelectionRange(found.position, Math.min(found.position + 1, area.value.length));
    }

    function newLine(event) {
      var start = area.selectionStart;
      var text = area.value;
      var lineStart = text.lastIndexOf("\n", start - 1) + 1;
      var indent = /^[ \t]*/.exec(text.slice(lineStart, start))[0];
      var before = text.slice(lineStart, start).trim().slice(-1);
      var after = text.slice(area.selectionEnd).trim().charAt(0);
      var insert = "\n" + indent;
      var closing = "";
      if (before === "{" || before === "[") {
        insert += INDENT;
        if ((before === "{" && after === "}") || (before === "[" && after === "]")) closing = "\n" + indent;
      }
      event.preventDefault();
      if (!document.execCommand || !document.execCommand("insertText", false, insert + closing)) {
        area.setRangeText(insert + closing, start, area.selectionEnd, "end");
      }
      var caret = start + insert.length;
      area.setSelectionRange(caret, caret);
    }

    area.addEventListener("input", later);
    area.addEventListener("paste", function () {
      var whole = area.selectionStart === 0 && area.selectionEnd === area.value.length;
      if (whole || area.value.trim() === "") setTimeout(formatNow, 0);
    });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey) newLine(event);
      if ((event.ctrlKey || event.metaKey) && event.shiftKey && (event.key === "F" || event.key === "f")) {
        event.preventDefault();
        formatNow();
      }
    });
    format.addEventListener("click", formatNow);
    jump.addEventListener("click", goToError);
    if (area.form) {
      area.form.addEventListener("submit", function (event) {
        if (check()) {
          event.preventDefault();
          goToError();
        }
      });
    }
    check();
  }

  var areas = document.querySelectorAll("textarea[data-json-editor]");
  for (var i = 0; i < areas.length; i++) enhance(areas[i]);
})();
