// Recipient suggestions under To and Cc: an ARIA combobox (WAI-ARIA 1.2 "list autocomplete").
// The options come from /compose/recipients through htmx; this file only makes the field a
// combobox and handles the keyboard, the touch and the choice. Without it the fields are plain
// text fields. Several recipients per field: only the one being typed (after the last comma or
// semicolon) is completed.
(function () {
  "use strict";

  var SEPARATORS = /[,;]/;

  function typedToken(value) {
    var parts = value.split(SEPARATORS);
    return parts[parts.length - 1].trim();
  }

  function options(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
  }

  function setUp(input) {
    var list = document.getElementById(input.getAttribute("data-suggest"));
    if (!list || !window.htmx) { return; }
    var active = -1;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    // htmx asks for suggestions 300 ms after the last keystroke; hx-sync replace aborts the
    // request still running, so an older answer cannot arrive after a newer one.
    input.setAttribute("hx-get", "/compose/recipients");
    input.setAttribute("hx-trigger", "input changed delay:300ms");
    input.setAttribute("hx-target", "#" + list.id);
    input.setAttribute("hx-swap", "innerHTML");
    input.setAttribute("hx-sync", "this:replace");
    window.htmx.process(input);

    function highlight(index) {
      var found = options(list);
      active = found.length ? (index + found.length) % found.length : -1;
      found.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", found[active].id);
        found[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      highlight(-1);
    }

    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(-1);
    }

    function choose(option) {
      var value = input.value;
      var cut = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"));
      var before = cut >= 0 ? value.slice(0, cut + 1) + " " : "";
      input.value = before + option.getAttribute("data-address") + ", ";
      close();
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }

    list.addEventListener("htmx:afterSwap", function () {
      // An answer for what is no longer being typed is not shown.
      var marker = list.querySelector("[data-for]");
      var answers = marker ? marker.getAttribute("data-for") : null;
      if (answers !== typedToken(input.value) || !list.querySelector("[role=option], .suggestion-group")) {
        close();
        return;
      }
      open();
    });

    input.addEventListener("keydown", function (event) {
      var expanded = !list.hidden;
      if (event.key === "ArrowDown" && expanded) {
        event.preventDefault(); highlight(active + 1);
      } else if (event.key === "ArrowUp" && expanded) {
        event.preventDefault(); highlight(active - 1);
      } else if (event.key === "Enter" && expanded && active >= 0) {
        event.preventDefault(); // choosing is not sending
        choose(options(list)[active]);
      } else if (event.key === "Escape" && expanded) {
        event.preventDefault(); close();
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("input", function () {
      if (typedToken(input.value).length < 2) { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });

    // Touch and mouse: keep the focus in the field (the keyboard stays up), choose on release.
    list.addEventListener("pointerdown", function (event) { event.preventDefault(); });
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest ? event.target.closest("[role=option]") : null;
      if (option) { choose(option); }
    });
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("input[data-suggest]"), function (input) {
      if (input.hasAttribute("data-suggest-bound")) { return; }
      input.setAttribute("data-suggest-bound", "");
      setUp(input);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(event.target); });
})();
