// Small behaviours that need script; everything works without it (plain links and forms).
(function () {
  "use strict";

  // Size the sandboxed mail frame to its content so the page scrolls as one.
  function fitFrame(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.documentElement) {
        frame.style.height = doc.documentElement.scrollHeight + 16 + "px";
      }
    } catch (e) { /* not same origin: keep the CSS height */ }
  }

  // Elements of root matching selector that were not bound yet: htmx:load also fires for the
  // page itself, after DOMContentLoaded, and a second binding would ask every question twice.
  function unbound(root, selector) {
    return Array.prototype.filter.call(root.querySelectorAll(selector), function (element) {
      if (element.hasAttribute("data-bound")) { return false; }
      element.setAttribute("data-bound", "");
      return true;
    });
  }

  function bind(root) {
    unbound(root, "iframe.mail-frame").forEach(function (frame) {
      frame.addEventListener("load", function () {
        fitFrame(frame);
        setTimeout(function () { fitFrame(frame); }, 400); // late images
      });
      // The frame may have loaded before this script ran.
      try {
        if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fitFrame(frame); }
      } catch (e) { /* keep the CSS height */ }
    });

    // A reply: the cursor above the quote, at the very start (a boosted page gets no
    // autofocus from the browser itself).
    unbound(root, "textarea[data-caret-start]").forEach(function (area) {
      area.focus({ preventScroll: true });
      area.setSelectionRange(0, 0);
      area.scrollTop = 0;
    });

    unbound(root, "[data-frame-src]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault(); // a link without script: the page again, images shown
        var frame = document.getElementById(button.getAttribute("data-frame-target"));
        if (frame) { frame.src = button.getAttribute("data-frame-src"); }
        var banner = button.closest(".remote-banner");
        if (banner) { banner.hidden = true; }
      });
    });

    // Print: the page itself; an HTML mail through a frame of its own, since a frame
    // printed with the page is cut at the end of the first sheet.
    unbound(root, "[data-print]").forEach(function (control) {
      control.addEventListener("click", function (event) {
        event.preventDefault();
        if (!control.hasAttribute("data-print-frame")) { window.print(); return; }
        var frame = document.createElement("iframe");
        frame.className = "print-frame";
        frame.setAttribute("sandbox", "allow-same-origin allow-modals");
        frame.setAttribute("aria-hidden", "true");
        frame.addEventListener("load", function () {
          frame.contentWindow.print();
          setTimeout(function () { frame.remove(); }, 1000);
        });
        frame.src = control.getAttribute("href");
        document.body.appendChild(frame);
      });
    });

    unbound(root, "button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); return; }
        // Confirmed here: the server need not ask again (without script, it does).
        var form = button.closest("form");
        var marker = form && form.querySelector("input[data-confirmed]");
        if (marker) { marker.value = marker.getAttribute("data-confirmed"); }
      });
    });

    // Refuse oversized attachments before the upload starts: on weak 4G a refused
    // 20 MB upload costs minutes.
    unbound(root, "form[data-max-upload]").forEach(function (form) {
      var input = form.querySelector("input[type=file]");
      var error = form.querySelector("#upload-error");
      var limit = parseInt(form.getAttribute("data-max-upload"), 10);
      function tooBig() {
        var total = 0;
        Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
        return total > limit;
      }
      if (!input) { return; }
      input.addEventListener("change", function () { error.hidden = !tooBig(); });
      form.addEventListener("submit", function (event) {
        if (tooBig()) { event.preventDefault(); error.hidden = false; input.focus(); }
      });
    });
  }

  // Idle lock: warn two minutes before the server ends the session; on the compose page,
  // keep the text safe in Drafts first (never in browser storage).
  var idleTimer = null;
  function armIdleWarning() {
    var seconds = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
    var warning = document.querySelector(".idle-warning");
    if (!seconds || !warning) { return; }
    if (idleTimer) { clearTimeout(idleTimer); }
    warning.hidden = true;
    idleTimer = setTimeout(function () {
      warning.hidden = false;
      saveDraftQuietly();
    }, Math.max(seconds - 120, 5) * 1000);
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function saveDraftQuietly() {
    var form = document.querySelector("form.compose-form");
    if (!form || !form.querySelector("#body").value.trim()) { return; }
    var data = new FormData(form);
    data.set("action", "save");
    data.delete("attachments");
    // Not form.action: the buttons named "action" shadow it (a RadioNodeList).
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin",
                         headers: { "X-CSRF-Token": csrfToken() } })
      .then(function (response) {
        var note = document.querySelector(".idle-warning p");
        if (response.ok && note) { note.textContent += " " + form.getAttribute("data-autosaved"); }
      })
      .catch(function () { /* the visible warning still stands */ });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-keepalive]") : null;
    if (!button) { return; }
    fetch(button.getAttribute("data-keepalive"), {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } })
      .then(function (response) {
        if (response.status === 204) { armIdleWarning(); } else { window.location = "/login?notice=expired"; }
      });
  });

  // Feedback at once on a slow network: the bar at the top (html.loading), the region being
  // replaced busy for assistive technologies; htmx marks what was tapped (htmx-request).
  var pending = 0;
  document.addEventListener("htmx:beforeRequest", function (event) {
    pending += 1;
    document.documentElement.classList.add("loading");
    var target = event.detail.target;
    if (target && target.setAttribute) { target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    pending = Math.max(pending - 1, 0);
    if (!pending) { document.documentElement.classList.remove("loading"); }
    var target = event.detail.target;
    if (target && target.removeAttribute) { target.removeAttribute("aria-busy"); }
  });

  document.addEventListener("DOMContentLoaded", function () { bind(document); armIdleWarning(); });
  document.addEventListener("htmx:afterSettle", armIdleWarning);
  document.addEventListener("htmx:load", function (event) { bind(event.target); });
})();
