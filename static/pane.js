// The reading pane on a tablet or a desktop: a message opened from the list, or from the
// pane's next/previous, fills the pane while the list stays where it was; archive, delete
// and move from the pane take the row out and open the next message. The address follows,
// so that back, forward and reload show the same message. On a phone, and without script,
// the same links and forms open whole pages.
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 768px)");

  function pane() { return document.getElementById("reading-pane"); }

  // Beside the list only: a message page opened from a search has no list to stay beside.
  function split() { return WIDE.matches && pane() && document.getElementById("list-pane"); }

  function uidOf(url) { return new URL(url, window.location.href).searchParams.get("uid"); }

  function rowOf(uid) {
    return uid ? document.querySelector('#message-list li.row[data-uid="' + uid + '"]') : null;
  }

  function markCurrent(uid) {
    Array.prototype.forEach.call(document.querySelectorAll("#message-list a.row-link[aria-current]"),
      function (link) { link.removeAttribute("aria-current"); });
    var row = rowOf(uid);
    var link = row && row.querySelector("a.row-link");
    if (link) { link.setAttribute("aria-current", "true"); }
  }

  // The link tapped is marked until the message is there; the request comes from the pane,
  // not from the (boosted) link, so that the server answers with the pane's content alone.
  function open(url, link) {
    var target = pane();
    markCurrent(uidOf(url));
    if (link) { link.classList.add("opening"); }
    // The caller pushes the address, not htmx: an entry of htmx's brings back a whole page
    // (restore below), an entry of the pane's only the pane.
    return window.htmx.ajax("GET", url, { source: target, target: target, swap: "innerHTML", push: "false" })
      // Reading starts at the top, and the keyboard (and a screen reader) is in the message.
      .then(function () { target.scrollTop = 0; target.focus({ preventScroll: true }); })
      .finally(function () { if (link) { link.classList.remove("opening"); } });
  }

  function empty() {
    var target = pane();
    var hint = document.getElementById("pane-empty-template");
    target.innerHTML = hint ? hint.innerHTML : "";
    markCurrent(null);
    var list = document.getElementById("list-pane");
    if (list && list.getAttribute("data-title")) { document.title = list.getAttribute("data-title"); }
  }

  function plainClick(event) {
    return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
  }

  // Captured before htmx sees the click: the link is boosted, and would replace the page.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-pane]") : null;
    if (!link || !plainClick(event) || !split()) { return; }
    event.preventDefault();
    event.stopPropagation();
    var url = link.getAttribute("href");
    window.history.pushState({ pane: true }, "", url);
    open(url, link);
  }, true);

  function neighbour(row) {
    var next = row.nextElementSibling;
    while (next && !next.matches("li.row[data-uid]")) { next = next.nextElementSibling; }
    if (next) { return next; }
    var previous = row.previousElementSibling;
    while (previous && !previous.matches("li.row[data-uid]")) { previous = previous.previousElementSibling; }
    return previous;
  }

  function afterRemoval(row) {
    var next = row ? neighbour(row) : null;
    var link = next ? next.querySelector("a.row-link[data-pane]") : null;
    if (row) { row.remove(); }
    if (link) {
      window.history.replaceState({ pane: true }, "", link.getAttribute("href"));
      open(link.getAttribute("href"), link);
    } else {
      var list = document.getElementById("live");
      if (list) { window.history.replaceState({ pane: true }, "", list.getAttribute("data-rows")); }
      empty();
    }
  }

  // What the list says after the action (the undo offer, or the notice), put above the list;
  // triage.js times the offer on htmx:load, as for a list page.
  function showNotice(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var notice = fresh.getElementById("undo-notice") || fresh.querySelector("#list-pane > .alert");
    var list = document.getElementById("list-pane");
    if (!notice || !list) { return; }
    Array.prototype.forEach.call(list.querySelectorAll(":scope > #undo-notice, :scope > .alert"),
      function (old) { old.remove(); });
    var node = document.importNode(notice, true);
    list.prepend(node);
    window.htmx.process(node);
    window.htmx.trigger(list, "htmx:load", {});
  }

  // Archive, delete, move from the pane: done in place. A redirect to the list is the
  // server's "done"; any other answer (a question, a refusal) replaces the page, as it
  // would without script, and the action is never sent twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-pane-action]") || !split() || !pane().contains(form)) { return; }
    event.preventDefault();
    event.stopPropagation();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    var row = rowOf(form.querySelector("input[name=uid]").value);
    var target = pane();
    target.setAttribute("aria-busy", "true");
    document.documentElement.classList.add("loading");
    window.fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        var done = response.redirected && new URL(response.url).pathname === "/mail";
        return response.text().then(function (html) {
          if (done) {
            afterRemoval(row);
            if (response.ok) { showNotice(html); }
          } else {
            window.htmx.swap(document.body, html, { swapStyle: "innerHTML" });
          }
        });
      })
      .catch(function () { form.submit(); }) // no answer at all: as without script
      .finally(function () {
        target.removeAttribute("aria-busy");
        document.documentElement.classList.remove("loading");
      });
  }, true);

  // The pages left by a boosted link, with where they were scrolled to, so that back shows
  // the list where it was (in memory only: nothing of the mailbox in browser storage).
  var scrolls = {}, cameFrom = null;
  function here() { return window.location.pathname + window.location.search; }
  document.addEventListener("htmx:beforeHistoryUpdate", function () {
    cameFrom = here();
    scrolls[cameFrom] = window.scrollY;
  });

  // An entry htmx pushed: its page again, as a boosted link brings it (htmx alone would
  // reload it and start at the top). Registered before htmx's own handler, which it replaces.
  var restoring = null;
  function restore() {
    var url = here();
    restoring = scrolls[url] || 0;
    window.htmx.ajax("GET", url, { source: document.body, target: document.body, swap: "innerHTML",
                                   push: "false", headers: { "HX-History-Restore-Request": "true" } });
  }
  document.addEventListener("htmx:afterSettle", function () {
    if (restoring === null) { return; }
    window.scrollTo(0, restoring);
    restoring = null;
  });

  // "/mail" is the inbox's list, as "/mail?folder=INBOX" is.
  function sameList(a, b) {
    function key(address) {
      var url = new URL(address, window.location.href);
      if (url.pathname === "/mail" && !url.searchParams.has("folder")) { url.searchParams.set("folder", "INBOX"); }
      url.searchParams.sort();
      return url.pathname + "?" + url.searchParams.toString();
    }
    return a !== null && b !== null && key(a) === key(b);
  }

  // The top bar's back to the page just left: the same as the browser's back.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-back]") : null;
    if (!link || !plainClick(event) || !sameList(link.getAttribute("href"), cameFrom)) { return; }
    event.preventDefault();
    event.stopPropagation();
    window.history.back();
  }, true);

  // Back and forward between messages of the pane, and to the pages htmx pushed.
  window.addEventListener("popstate", function (event) {
    if (event.state && event.state.htmx) {
      event.stopImmediatePropagation();
      restore();
      return;
    }
    if (!split()) { window.location.reload(); return; }
    if (window.location.pathname === "/mail/message") {
      open(window.location.pathname + window.location.search);
    } else if (window.location.pathname === "/mail") {
      empty();
    } else {
      window.location.reload();
    }
  });
})();
