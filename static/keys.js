// Keyboard shortcuts, for a physical keyboard: never while typing in a field. "?" lists them
// (templates/partials/_keys_help.html). Each one clicks what the page already offers, so a
// shortcut does exactly what the tap would, and nothing when the page does not offer it.
(function () {
  "use strict";

  function first(selectors) {
    for (var i = 0; i < selectors.length; i += 1) {
      var found = document.querySelector(selectors[i]);
      if (found) { return found; }
    }
    return null;
  }

  function typing(target) {
    return target.isContentEditable || (target.closest && target.closest("input, textarea, select, [contenteditable]"));
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#message-list li.row a.row-link")); }

  // The row the keyboard is on: the focused one, else the one open, else none.
  function currentRow(links) {
    var index = links.indexOf(document.activeElement);
    if (index === -1) { index = links.indexOf(document.querySelector("#message-list a.row-link[aria-current]")); }
    return index;
  }

  function step(delta) {
    var neighbour = document.querySelector(delta > 0 ? "#action-bar a[rel=next]" : "#action-bar a[rel=prev]");
    var links = rows();
    var onList = links.indexOf(document.activeElement) !== -1;
    if (neighbour && !onList) { neighbour.click(); return true; }
    if (!links.length) { return false; }
    var index = currentRow(links);
    var next = index === -1 ? 0 : Math.min(Math.max(index + delta, 0), links.length - 1);
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function openRow() {
    var links = rows();
    var index = currentRow(links);
    if (links.length) { links[index === -1 ? 0 : index].click(); return true; }
    return false;
  }

  function clickFirst(selectors) {
    var target = first(selectors);
    if (target) { target.click(); }
    return Boolean(target);
  }

  function backToList() {
    if (clickFirst(["a[data-back]"])) { return true; }
    var links = rows();
    if (!links.length) { return false; }
    links[Math.max(currentRow(links), 0)].focus();
    return true;
  }

  function help() {
    var dialog = document.getElementById("keys-help");
    if (!dialog) { return false; }
    if (dialog.open) { dialog.close(); } else { dialog.showModal(); }
    return true;
  }

  var ACTIONS = {
    "j": function () { return step(1); },
    "k": function () { return step(-1); },
    "o": openRow,
    "r": function () { return clickFirst(["#action-bar [data-key=r]"]); },
    "a": function () { return clickFirst(["#action-bar [data-key=a]"]); },
    "f": function () { return clickFirst(["#action-bar [data-key=f]"]); },
    "e": function () { return clickFirst(["#action-bar [data-key=e]"]); },
    "#": function () { return clickFirst(["#action-bar [data-key='#']"]); },
    "Delete": function () { return clickFirst(["#action-bar [data-key='#']"]); },
    "c": function () { return clickFirst([".topbar a[href='/compose']", "a[data-key=c]"]); },
    "/": function () {
      var field = document.getElementById("search-q");
      if (field) { field.focus(); return true; }
      return clickFirst([".topbar a[href^='/search']"]);
    },
    "u": backToList,
    "?": help
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) { return; }
    var dialog = document.querySelector("dialog[open]");
    if (dialog && !(dialog.id === "keys-help" && event.key === "?")) { return; }
    var action = ACTIONS[event.key];
    if (action && action()) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-keys-close]") : null;
    if (button) { document.getElementById("keys-help").close(); }
  });
})();
