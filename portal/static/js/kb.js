// "Did this fix it?" on a case page: the answer and its comment are sent in the background.
// Without a connection they are kept on this phone (localStorage) and sent when it returns,
// as audit answers are; nothing typed is lost. Without this script the form posts as usual.
(function () {
  "use strict";
  var QUEUE = "portal-feedback-queue";
  var form = document.querySelector("form[data-feedback]");
  if (!form) return;
  var user = form.getAttribute("data-user");
  var status = form.querySelector("[data-feedback-status]");
  var comment = form.querySelector("textarea[name=comment]");
  var msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
  var flushing = false;
  var again = false;

  function read() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function write(items) {
    try { localStorage.setItem(QUEUE, JSON.stringify(items)); return true; } catch (e) { return false; }
  }
  function say(text) {
    if (!status) return;
    status.hidden = !text;
    status.textContent = text || "";
  }
  function token() {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  function waiting() {
    return read().filter(function (i) { return i.user === user && i.url === form.action; }).length > 0;
  }

  // done: sent (or refused for good: the case is gone); otherwise kept for the next try.
  function send(item) {
    var data = new FormData();
    data.append("csrf_token", token());
    data.append("fixed", item.fixed);
    data.append("comment", item.comment);
    return fetch(item.url, { method: "POST", body: data, credentials: "same-origin",
                             headers: { "Accept": "application/json", "X-CSRFToken": token() } })
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (body) { return { done: true, text: body.message }; });
        }
        if (response.status === 403 || response.status === 404) return { done: true, text: msg("failed") };
        return { done: false };
      });
  }

  function flush() {
    if (flushing) { again = true; return; }
    var mine = read().filter(function (i) { return i.user === user; });
    if (!mine.length) return;
    flushing = true;
    var chain = Promise.resolve();
    mine.forEach(function (item) {
      chain = chain.then(function () {
        return send(item).then(function (result) {
          if (!result.done) throw new Error("not yet");
          write(read().filter(function (i) { return i.id !== item.id; }));
          if (item.url === form.action) {
            say(result.text);
            var before = form.parentNode.querySelector("[data-my-answer]");
            if (before) before.hidden = true;
          }
        });
      });
    });
    chain.catch(function () { if (waiting()) say(msg("queued")); })
      .then(function () {
        flushing = false;
        if (again) { again = false; flush(); }
      });
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.value) return;
    var items = read();
    var item = { id: Date.now() + "-" + Math.random().toString(36).slice(2), user: user,
                 url: form.action, fixed: button.value, comment: comment ? comment.value : "",
                 at: Date.now() };
    items.push(item);
    if (!write(items)) return;  // no storage on this phone: the browser posts the form itself
    event.preventDefault();
    if (comment) comment.value = "";
    flush();
  });

  if (waiting()) say(msg("queued"));
  window.addEventListener("online", flush);
  setInterval(function () { if (navigator.onLine !== false) flush(); }, 15000);
  flush();
})();
