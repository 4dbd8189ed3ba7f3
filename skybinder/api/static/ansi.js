/* The build log view: ANSI colours rendered as styled spans (never as markup: every piece of
   the log becomes a text node), carriage-return progress lines collapsed, and auto-scroll that
   stops while the reader looks further up. */
(function () {
  "use strict";
  var MAX_LINES = 5000;
  var CUBE = [0, 95, 135, 175, 215, 255];

  function fresh() { return { bold: false, dim: false, italic: false, underline: false, fg: null, bg: null }; }

  /* A 256-colour index or an rgb triple as a CSS colour; basic ones use the theme's classes. */
  function extended(codes, i) {
    if (codes[i + 1] === 5 && codes.length > i + 2) {
      var n = codes[i + 2];
      if (n < 16) { return { value: n, skip: 2 }; }
      if (n < 232) {
        n -= 16;
        var rgb = [CUBE[Math.floor(n / 36)], CUBE[Math.floor(n / 6) % 6], CUBE[n % 6]];
        return { value: "rgb(" + rgb.join(",") + ")", skip: 2 };
      }
      var grey = 8 + (n - 232) * 10;
      return { value: "rgb(" + grey + "," + grey + "," + grey + ")", skip: 2 };
    }
    if (codes[i + 1] === 2 && codes.length > i + 4) {
      return { value: "rgb(" + codes.slice(i + 2, i + 5).join(",") + ")", skip: 4 };
    }
    return { value: null, skip: codes.length };
  }

  /* Apply one SGR sequence ("1;31") to the style. */
  function sgr(style, params) {
    var codes = params === "" ? [0] : params.split(";").map(function (c) { return parseInt(c, 10) || 0; });
    for (var i = 0; i < codes.length; i++) {
      var c = codes[i];
      if (c === 0) { var clean = fresh(); Object.keys(clean).forEach(function (k) { style[k] = clean[k]; }); }
      else if (c === 1) { style.bold = true; }
      else if (c === 2) { style.dim = true; }
      else if (c === 3) { style.italic = true; }
      else if (c === 4) { style.underline = true; }
      else if (c === 22) { style.bold = false; style.dim = false; }
      else if (c === 23) { style.italic = false; }
      else if (c === 24) { style.underline = false; }
      else if (c >= 30 && c <= 37) { style.fg = c - 30; }
      else if (c >= 90 && c <= 97) { style.fg = c - 90 + 8; }
      else if (c === 39) { style.fg = null; }
      else if (c >= 40 && c <= 47) { style.bg = c - 40; }
      else if (c >= 100 && c <= 107) { style.bg = c - 100; }
      else if (c === 49) { style.bg = null; }
      else if (c === 38 || c === 48) {
        var found = extended(codes, i);
        if (c === 38) { style.fg = found.value; } else { style.bg = found.value; }
        i += found.skip;
      }
    }
  }

  function styled(style, text) {
    var plain = !style.bold && !style.dim && !style.italic && !style.underline &&
      style.fg === null && style.bg === null;
    if (plain) { return document.createTextNode(text); }
    var span = document.createElement("span");
    var names = [];
    if (style.bold) { names.push("ansi-bold"); }
    if (style.dim) { names.push("ansi-dim"); }
    if (style.italic) { names.push("ansi-italic"); }
    if (style.underline) { names.push("ansi-underline"); }
    if (typeof style.fg === "number") { names.push("ansi-fg-" + style.fg); }
    else if (style.fg) { span.style.color = style.fg; }
    if (typeof style.bg === "number") { names.push("ansi-bg-" + (style.bg % 8)); }
    else if (style.bg) { span.style.backgroundColor = style.bg; }
    span.className = names.join(" ");
    span.textContent = text;
    return span;
  }

  /* Keep what a terminal would show of each line: the text after its last carriage return. */
  function collapseReturns(text) {
    return text.replace(/\r\n/g, "\n").split("\n").map(function (line) {
      var at = line.replace(/\r+$/, "").lastIndexOf("\r");
      return at === -1 ? line.replace(/\r+$/, "") : line.slice(at + 1);
    }).join("\n");
  }

  /* Append `text` to `parent` as nodes, carrying `style` over from earlier chunks. */
  function render(parent, text, style) {
    // CSI sequences (colours and cursor moves) and OSC sequences (titles, links).
    var pattern = /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
    text = collapseReturns(text);
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) { parent.appendChild(styled(style, text.slice(last, match.index))); }
      if (match[2] === "m") { sgr(style, match[1] || ""); }
      last = pattern.lastIndex;
    }
    if (last < text.length) { parent.appendChild(styled(style, text.slice(last))); }
  }

  function strip(text) {
    var box = document.createElement("div");
    render(box, text, fresh());
    return box.textContent;
  }

  /* A log in `element`, following new lines until the reader scrolls up; `jump` is the
     button shown meanwhile to return to the latest line. */
  function LogView(element, jump) {
    this.element = element;
    this.jump = jump;
    this.style = fresh();
    this.follow = true;
    this.lines = 0;
    var view = this;
    element.addEventListener("scroll", function () {
      var atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - 4;
      view.follow = atEnd;
      jump.dataset.shown = atEnd ? "no" : "yes";
      jump.tabIndex = atEnd ? -1 : 0;
    });
    jump.addEventListener("click", function () { view.toEnd(); });
  }
  LogView.prototype.toEnd = function () {
    this.follow = true;
    this.element.scrollTop = this.element.scrollHeight;
    this.jump.dataset.shown = "no";
  };
  LogView.prototype.append = function (text) {
    var line = document.createElement("span");
    line.className = "line";
    render(line, text, this.style);
    this.element.appendChild(line);
    this.lines += 1;
    if (this.lines > MAX_LINES) { this.element.removeChild(this.element.firstChild); this.lines -= 1; }
    if (this.follow) { this.element.scrollTop = this.element.scrollHeight; }
  };
  LogView.prototype.note = function (text) {
    var line = document.createElement("span");
    line.className = "line note";
    line.textContent = text + "\n";
    this.element.appendChild(line);
    if (this.follow) { this.element.scrollTop = this.element.scrollHeight; }
  };
  LogView.prototype.clear = function () {
    this.element.textContent = "";
    this.lines = 0;
    this.style = fresh();
  };
  /* The last `n` lines of the log as plain text. */
  LogView.prototype.tail = function (n) {
    var lines = this.element.textContent.replace(/\n+$/, "").split("\n");
    return lines.slice(-n).join("\n");
  };

  window.SkybinderLog = { LogView: LogView, render: render, strip: strip };
})();
