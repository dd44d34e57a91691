// The attempt page: every answer goes to the server as it is given, one save at a time
// (retried when the connection returns), a countdown to the server's deadline, move-up/down for ordering,
// and one submit only. Without this script the page still works: Submit sends all answers.
(function () {
  "use strict";
  var form = document.querySelector("[data-attempt]");
  if (!form) return;
  var saveUrl = form.getAttribute("data-save-url");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
  var langField = form.querySelector("input[name=lang]");
  // One save in flight per attempt: overlapping saves could reach the server in any order.
  // A question waits in `pending` (in order) until the current save returns; its fields are
  // read when its turn comes, so the newest value is what is sent. A save that failed waits in
  // `failed` until the connection is back (or the next periodic retry).
  var pending = {};   // question index → true: to be sent
  var failed = {};    // question index → true: sending failed, to be sent again on retry
  var busy = false;   // a save is in flight
  var timers = {};
  var submitting = false;

  function fieldset(index) { return form.querySelector("[data-question='" + index + "']"); }
  function setState(index, text) {
    var el = fieldset(index).querySelector("[data-save-state]");
    if (el) el.textContent = text;
  }

  function post(index) {
    var box = fieldset(index);
    var data = new FormData();
    data.append("csrf_token", csrf);
    data.append("index", index);
    if (langField) data.append("lang", langField.value);
    box.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (!el.name || el.disabled) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      data.append(el.name, el.value);
    });
    return fetch(saveUrl, { method: "POST", body: data, credentials: "same-origin",
                            headers: { "X-CSRFToken": csrf, "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (reply) {
        if (reply.body.closed && reply.body.result) { window.location = reply.body.result; return; }
        if (!reply.body.ok) { failed[index] = true; setState(index, reply.body.error || msg("unsaved")); return; }
        if (pending[index]) return;  // changed again meanwhile: that save is still to come
        box.setAttribute("data-saved", "");
        setState(index, msg("saved"));
        var count = form.querySelector("[data-answered]");
        if (count) count.textContent = reply.body.answered;
      })
      .catch(function () {
        failed[index] = true;
        if (!pending[index]) setState(index, msg("unsaved"));
      });
  }

  function pump() {
    if (busy) return;
    var next = Object.keys(pending)[0];
    if (next === undefined) return;
    delete pending[next];
    delete failed[next];
    busy = true;
    post(next).then(function () { busy = false; pump(); });
  }

  function send(index) {
    index = String(index);
    pending[index] = true;
    fieldset(index).removeAttribute("data-saved");
    setState(index, msg("saving"));
    pump();
  }

  function later(index, wait) {
    clearTimeout(timers[index]);
    timers[index] = setTimeout(function () { send(index); }, wait);
  }

  form.addEventListener("change", function (event) {
    var box = event.target.closest("[data-question]");
    if (box) later(box.getAttribute("data-question"), 0);
  });
  form.addEventListener("input", function (event) {
    var box = event.target.closest("[data-question]");
    if (box && event.target.type === "text") later(box.getAttribute("data-question"), 700);
  });
  function retry() { Object.keys(failed).forEach(function (index) { send(index); }); }
  window.addEventListener("online", retry);
  setInterval(function () { if (navigator.onLine !== false) retry(); }, 15000);

  // Ordering: buttons to move an item; the place selects follow the list.
  form.querySelectorAll("[data-ordering]").forEach(function (list) {
    function renumber() {
      list.querySelectorAll("li").forEach(function (li, n) { li.querySelector("select").value = String(n + 1); });
      later(list.closest("[data-question]").getAttribute("data-question"), 0);
    }
    list.querySelectorAll("li").forEach(function (li) {
      [["up", "↑"], ["down", "↓"]].forEach(function (pair) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button secondary move";
        button.textContent = pair[1];
        button.setAttribute("aria-label", msg(pair[0]));
        button.setAttribute("data-move", pair[0]);
        button.addEventListener("click", function () {
          if (pair[0] === "up" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
          if (pair[0] === "down" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
          renumber();
          button.focus();
        });
        li.appendChild(button);
      });
    });
  });

  // Countdown to the server's deadline (the server closes the attempt whatever this shows).
  var timer = form.querySelector("[data-remaining]");
  if (timer) {
    var clock = timer.querySelector("[data-clock]");
    var ends = Date.now() + 1000 * parseInt(timer.getAttribute("data-remaining"), 10);
    var tick = function () {
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      var minutes = Math.floor(left / 60), seconds = left % 60;
      clock.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      timer.classList.toggle("timer-low", left <= 300);
      if (left === 0 && !submitting) {
        submitting = true;
        timer.textContent = msg("timeup");
        form.submit();
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  form.addEventListener("submit", function (event) {
    if (submitting) { if (event.isTrusted) event.preventDefault(); return; }
    var total = form.querySelectorAll("[data-question]").length;
    var answered = parseInt((form.querySelector("[data-answered]") || {}).textContent || "0", 10);
    if (answered < total && !window.confirm(msg("confirm"))) { event.preventDefault(); return; }
    submitting = true;
    var button = form.querySelector("[data-action=submit]");
    if (button) button.disabled = true;
  });
})();
