// The message list's selection on a phone: the action bar shows the count checked, a long
// press toggles a row, a swipe archives (right) or deletes (left), and the undo notice
// leaves after its window. Without script the checkboxes and the bar are a plain form.
(function () {
  "use strict";

  var LONG_PRESS_MS = 500;
  var SWIPE_SHARE = 0.35; // of the row's width

  function bar() { return document.getElementById("selection-form"); }

  function checked() {
    return document.querySelectorAll("input[type=checkbox][form=selection-form]:checked");
  }

  function showCount() {
    var form = bar();
    if (!form) { return; }
    var n = checked().length;
    form.classList.toggle("active", n > 0);
    var count = form.querySelector(".selection-count");
    if (count) { count.textContent = n ? count.getAttribute("data-template").replace("{n}", n) : ""; }
  }

  // Submit the bar for this row alone, as if its box were the only one checked.
  function actOn(row, action) {
    var form = bar();
    var button = form && form.querySelector("button[name=action][value=" + action + "]");
    if (!button) { return; }
    Array.prototype.forEach.call(checked(), function (box) { box.checked = false; });
    row.querySelector("input[type=checkbox]").checked = true;
    row.classList.add("swiped");
    form.requestSubmit(button);
  }

  function bindRow(row) {
    if (row.hasAttribute("data-triage")) { return; }
    row.setAttribute("data-triage", "");
    var timer = null, startX = 0, startY = 0, pressed = false, moved = false;
    row.addEventListener("touchstart", function (event) {
      var touch = event.touches[0];
      startX = touch.clientX; startY = touch.clientY; pressed = false; moved = false;
      timer = setTimeout(function () {
        pressed = true;
        var box = row.querySelector("input[type=checkbox]");
        box.checked = !box.checked;
        showCount();
      }, LONG_PRESS_MS);
    }, { passive: true });
    row.addEventListener("touchmove", function (event) {
      var dx = event.touches[0].clientX - startX, dy = event.touches[0].clientY - startY;
      if (Math.abs(dx) > 10 || Math.abs(dy) > 10) { clearTimeout(timer); moved = true; }
      if (Math.abs(dx) > Math.abs(dy)) { row.style.transform = "translateX(" + dx + "px)"; }
    }, { passive: true });
    row.addEventListener("touchend", function (event) {
      clearTimeout(timer);
      var dx = event.changedTouches[0].clientX - startX;
      row.style.transform = "";
      if (moved && Math.abs(dx) > row.offsetWidth * SWIPE_SHARE) {
        actOn(row, dx > 0 ? "archive" : "delete");
      }
    });
    // A long press chose the row: it must not also open the message.
    row.addEventListener("click", function (event) {
      if (pressed && !event.target.closest("label")) { event.preventDefault(); pressed = false; }
    });
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("li.row[data-uid]"), bindRow);
    var notice = root.querySelector ? root.querySelector("#undo-notice") : null;
    if (notice && !notice.hasAttribute("data-timed")) {
      notice.setAttribute("data-timed", "");
      var seconds = parseInt(notice.getAttribute("data-undo-seconds"), 10) || 10;
      setTimeout(function () { notice.remove(); }, seconds * 1000);
    }
    showCount();
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[form=selection-form]")) { showCount(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = bar();
    if (form) { form.setAttribute("data-js", ""); }
    bind(document);
  });
  document.addEventListener("htmx:load", function (event) {
    var form = bar();
    if (form) { form.setAttribute("data-js", ""); }
    bind(event.target);
  });
})();
