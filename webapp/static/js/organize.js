// The organizer workspace's script: the letter editor's live preview and insert-a-field buttons, jumping to a
// template error's line, and "are you sure?" for buttons that change what supporters see. Every page works
// without it.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function setupConfirmations() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-confirm]");
      if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  function checked(form, name) {
    return Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (input) {
      return input.value;
    });
  }

  function setupPreview() {
    var form = document.getElementById("template-form");
    var box = document.getElementById("preview");
    if (!form || !box) return;
    var url = form.getAttribute("data-preview-url");
    var token = form.getAttribute("data-csrf");
    var target = box.querySelector("[data-preview-target]");
    var note = box.querySelector("[data-preview-note]");
    var status = box.querySelector("[data-preview-status]");
    var problems = box.querySelector("[data-preview-problems]");
    var subjectOut = box.querySelector("[data-preview-subject]");
    var bodyOut = box.querySelector("[data-preview-body]");
    var timer = null;
    var sequence = 0;

    function request() {
      var mine = ++sequence;
      var payload = {
        subject: form.elements.subject.value,
        body: form.elements.body.value,
        target: target.value,
        with_note: note.checked,
        channels: checked(form, "channels"),
        salutation_and_signoff: !!(form.elements.salutation_and_signoff && form.elements.salutation_and_signoff.checked),
        target_ids: checked(form, "target_ids"),
        target_kinds: checked(form, "target_kinds")
      };
      status.textContent = "Updating the preview…";
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
        body: JSON.stringify(payload)
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (mine !== sequence) return; // a newer request is on its way
          problems.textContent = "";
          data.problems.forEach(function (problem) {
            var item = document.createElement("li");
            item.textContent = problem.error + (problem.text !== null && problem.text !== undefined ? " — " + problem.text.trim() : "");
            problems.appendChild(item);
          });
          problems.hidden = data.problems.length === 0;
          subjectOut.textContent = data.subject;
          bodyOut.textContent = data.body;
          status.textContent = data.problems.length
            ? "Saving would be refused until this is fixed."
            : "What " + data.target + " would receive from the sample supporter.";
          box.classList.toggle("has-problems", data.problems.length > 0);
        })
        .catch(function () {
          if (mine !== sequence) return;
          status.textContent = "The preview couldn't be updated just now (are you still logged in?). Saving still checks the letter.";
        });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(request, 350);
    }

    // Choosing who the letter is for moves the preview to one of them, unless it already shows one.
    function followChoice(event) {
      var name = event.target && event.target.name;
      if (name !== "target_ids" && name !== "target_kinds") return;
      var ids = checked(form, "target_ids");
      var kinds = checked(form, "target_kinds");
      var current = target.value;
      if (ids.indexOf(current) >= 0 || kinds.indexOf(current.replace(/^sample-/, "")) >= 0) return;
      var wanted = ids.length ? ids[0] : (kinds.length ? "sample-" + kinds[0] : null);
      if (wanted && target.querySelector('option[value="' + wanted + '"]')) target.value = wanted;
    }

    form.addEventListener("input", soon);
    form.addEventListener("change", function (event) { followChoice(event); soon(); });
    target.addEventListener("change", request);
    note.addEventListener("change", request);
    request();
  }

  // Insert-a-field buttons: the field's template code goes where the cursor was, in the subject or the letter
  // (the letter unless the subject was the last one typed in), and the preview follows.
  function setupInsertButtons() {
    var bar = document.querySelector("[data-insert-fields]");
    var form = document.getElementById("template-form");
    if (!bar || !form) return;
    var body = form.elements.body;
    var last = body;
    [form.elements.subject, body].forEach(function (box) {
      if (box) box.addEventListener("focus", function () { last = box; });
    });
    bar.hidden = false;
    bar.addEventListener("click", function (event) {
      var button = event.target.closest("[data-insert]");
      if (!button) return;
      var text = button.getAttribute("data-insert");
      var start = last.selectionStart, end = last.selectionEnd;
      if (typeof start !== "number") { start = end = last.value.length; }
      last.setRangeText(text, start, end, "end");
      last.focus();
      last.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  function setupErrorLine() {
    var area = document.querySelector("textarea[data-error-line]");
    if (!area) return;
    var wanted = parseInt(area.getAttribute("data-error-line"), 10);
    var lines = area.value.split("\n");
    if (!(wanted >= 1 && wanted <= lines.length)) return;
    var start = 0;
    for (var i = 0; i < wanted - 1; i++) start += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(start, start + lines[wanted - 1].length);
    var lineHeight = parseFloat(window.getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (wanted - 3) * lineHeight);
  }

  onReady(function () {
    setupConfirmations();
    setupPreview();
    setupInsertButtons();
    setupErrorLine();
  });
})();
