// Outcry's only script: copy buttons, provider presets, a note counter, live status and totals, the focus on a
// form's error summary, the ZIP field shown only for Congress, the share button, "Test my settings", and what was
// typed kept across the language switch.
// Every page works without it; it only saves taps and reloads.
(function () {
  "use strict";

  // The page's language and the script's messages in it: the server puts them in <html lang> and
  // <html data-messages> from the same catalog as the pages (the CSP allows no inline script). English pages carry
  // no messages: the text below is the English.
  var LANG = document.documentElement.lang || "en";
  var MESSAGES = {};
  try { MESSAGES = JSON.parse(document.documentElement.getAttribute("data-messages") || "{}"); } catch (e) { MESSAGES = {}; }
  function _(text, values) {
    return (MESSAGES[text] || text).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }
  function number(value) { return Number(value).toLocaleString(LANG); }

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  function setupCopyButtons() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-copy]");
      if (!button) return;
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.value !== undefined && source.tagName !== "OUTPUT" ? source.value : source.textContent;
      copyText(text).then(function () {
        var label = button.textContent;
        button.textContent = _("Copied"); button.classList.add("copied");
        setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
      });
    });
  }

  function setupProviders() {
    var select = document.querySelector("[data-provider-select]");
    if (!select) return;
    var details = document.querySelector("[data-server-details]");
    var form = select.form;
    function apply() {
      var chosen = select.value;
      document.querySelectorAll("[data-provider-help]").forEach(function (help) {
        var match = help.getAttribute("data-provider-help") === chosen;
        help.hidden = !match;
        if (match) {
          form.elements.smtp_host.value = help.getAttribute("data-host");
          form.elements.smtp_port.value = help.getAttribute("data-port");
          form.elements.smtp_security.value = help.getAttribute("data-security");
        }
      });
      if (details) details.hidden = chosen !== "other";
    }
    select.addEventListener("change", apply);
    apply();
  }

  function setupCounters() {
    document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
      var field = document.getElementById(counter.getAttribute("data-counter-for"));
      if (!field) return;
      var max = parseInt(field.getAttribute("data-limit"), 10);
      function update() {
        var count = Array.from(field.value.trim()).length, over = count - max;  // as the server counts
        counter.textContent = over > 0
          ? _("{count} of {max} characters: please cut {over}.", { count: number(count), max: number(max), over: number(over) })
          : _("{count} of {max} characters", { count: number(count), max: number(max) });
        counter.classList.toggle("error", over > 0);
      }
      field.addEventListener("input", update);
      update();
    });
  }

  // The personal-words meter, live: the same rule as webapp/letters/words.py (a multiset of words).
  var WORD = /[\p{L}\p{N}_]+(?:['\u2019][\p{L}\p{N}_]+)*/gu;
  function words(text) { return (text.match(WORD) || []).map(function (w) { return w.toLowerCase(); }); }
  function personalShare(baseline, text) {
    var final = words(text);
    if (!final.length) return 0;
    var supplied = {};
    words(baseline).forEach(function (w) { supplied[w] = (supplied[w] || 0) + 1; });
    var own = 0;
    final.forEach(function (w) { if (supplied[w] > 0) supplied[w] -= 1; else own += 1; });
    return own / final.length;
  }
  function describeShare(share) {
    var percent = Math.round(share * 100);
    if (percent === 0) return _("This letter is all template so far. Offices weigh personal letters more than identical ones: a sentence or two of your own makes a difference.");
    if (percent < 20) return _("About {percent}%\u00a0of this letter is in your own words. A little more of your own story helps it stand out.", { percent: number(percent) });
    return _("About {percent}%\u00a0of this letter is in your own words. Offices notice letters like this.", { percent: number(percent) });
  }
  function setupMeters() {
    document.querySelectorAll("[data-meter-for]").forEach(function (meter) {
      var field = document.getElementById(meter.getAttribute("data-meter-for"));
      if (!field) return;
      var baseline = meter.getAttribute("data-baseline") || "";
      function update() {
        var share = personalShare(baseline, field.value);
        meter.querySelector("meter").value = share;
        meter.querySelector("[data-meter-text]").textContent = describeShare(share);
      }
      field.addEventListener("input", update);
    });
  }

  var STATUS_TEXT = {
    sent: _("Sent from your email account."),
    failed: _("Not sent."),
    handed_off: _("Ready for you to send."),
    sending: _("Sending…"),
    queued: _("Waiting to be sent…")
  };
  // Letters delivered into members' offices through Congress's own system (CWC).
  var CWC_STATUS_TEXT = {
    sent: _("Delivered to their office through Congress's own system."),
    failed: _("Not delivered."),
    sending: _("Delivering…"),
    queued: _("Waiting to be delivered…")
  };

  function poll(url, everyMs, handle) {
    var delay = everyMs;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
        .then(function (data) { delay = everyMs; if (handle(data) !== false) setTimeout(tick, delay); })
        .catch(function () { delay = Math.min(delay * 2, 30000); setTimeout(tick, delay); });
    }
    setTimeout(tick, everyMs);
  }

  function setupStatus() {
    var box = document.getElementById("status");
    if (!box || box.getAttribute("data-done") === "true") return;
    poll(box.getAttribute("data-status-url"), 1500, function (data) {
      data.letters.forEach(function (letter) {
        var card = box.querySelector('[data-letter="' + letter.id + '"]');
        if (!card || (letter.channel !== "smtp" && letter.channel !== "cwc")) return;
        var status = card.querySelector('[data-field="status"]');
        status.textContent = (letter.channel === "cwc" ? CWC_STATUS_TEXT : STATUS_TEXT)[letter.status] || letter.status;
        status.className = "status status-" + letter.status;
        var error = card.querySelector('[data-field="error"]');
        error.textContent = letter.error || ""; error.hidden = !letter.error;
        var waiting = card.querySelector('[data-field="waiting"]');
        waiting.textContent = letter.waiting ? _("Trying again soon: {when}", { when: letter.waiting }) : ""; waiting.hidden = !letter.waiting;
      });
      // A letter that failed can be sent again from this page: load it again once so its form is there.
      // A letter to Congress that failed gets its ways out on its own card (data-when-failed).
      var failed = data.letters.some(function (letter) {
        if (letter.status !== "failed") return false;
        if (letter.channel === "cwc") return !box.querySelector('[data-letter="' + letter.id + '"] [data-when-failed]');
        return !document.getElementById("send-again");
      });
      if (failed) { window.location.reload(); return false; }
      box.setAttribute("data-done", data.done ? "true" : "false");
      return !data.done;
    });
  }

  function setupTotals() {
    var section = document.querySelector("[data-totals-url]");
    if (!section) return;
    poll(section.getAttribute("data-totals-url"), 10000, function (data) {
      ["went_out", "sent", "handed_off", "confirmed", "shown_only"].forEach(function (name) {
        var span = section.querySelector('[data-total="' + name + '"]');
        if (span) span.textContent = number(data.totals[name]);
      });
      data.targets.forEach(function (row) {
        var tr = section.querySelector('tr[data-target="' + row.id + '"]');
        if (!tr) return;
        ["sent", "handed_off", "confirmed", "failed"].forEach(function (name) {
          var cell = tr.querySelector('[data-count="' + name + '"]');
          if (cell) cell.textContent = number(row[name]);
        });
      });
    });
  }

  function setupPrintPage() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // A form that came back with problems: the summary at its top gets the focus (so a phone scrolls to it and a
  // screen reader reads it), and each of its links moves the focus to the field it names.
  function setupErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    if (document.activeElement !== summary) summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      var details = target.closest("details");
      if (details) details.open = true;
      if (!target.matches("input, select, textarea, button")) target.setAttribute("tabindex", "-1");
      target.focus();
      target.scrollIntoView({ block: "center" });
    });
  }

  // Sharing: the system's share sheet where the browser has one; the link and its copy button are there anyway.
  function setupShare() {
    document.querySelectorAll("[data-share]").forEach(function (button) {
      if (!navigator.share) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.share({
          title: button.getAttribute("data-share-title"),
          text: button.getAttribute("data-share-text"),
          url: button.getAttribute("data-share-url")
        }).catch(function () {});
      });
    });
  }

  // The ZIP code is asked only while a member of Congress is chosen (the server asks for it on the same rule).
  function setupZipField() {
    var zip = document.querySelector("[data-zip-field]");
    var members = document.querySelectorAll("input[data-member]");
    if (!zip || !members.length) return;
    function update() {
      var chosen = Array.prototype.some.call(members, function (box) { return box.checked; });
      zip.hidden = !chosen && !zip.querySelector(".error");
    }
    members.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  // "Test my settings" on the send step, without leaving the page: the password stays typed. Without this
  // script the button posts the form and the page comes back with the same answer (the password then typed again).
  function setupSettingsTest() {
    document.querySelectorAll("[data-settings-test]").forEach(function (button) {
      var form = button.form;
      var answer = document.getElementById(button.getAttribute("aria-controls"));
      if (!form || !answer || !window.fetch || !window.FormData) return;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var data = new FormData(form);
        data.set("action", "test");
        button.disabled = true;
        answer.className = "settings-check";
        answer.textContent = _("Signing in to your mail server…");
        // getAttribute: the form's buttons are named "action", which hides the form's own `action` property.
        fetch(form.getAttribute("action"), { method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) {
            return response.json().then(function (body) {
              return { ok: Boolean(body.ok), message: body.message || body.error || "" };
            });
          })
          .catch(function () {
            return { ok: false, message: _("We couldn't run the test just now. Please try again in a minute.") };
          })
          .then(function (result) {
            answer.className = "settings-check " + (result.ok ? "works" : "error");
            answer.textContent = result.message;
            button.disabled = false;
          });
      });
    });
  }

  // The language switch posts a form of its own: what was changed here (never a password) goes in this tab's
  // sessionStorage and comes back, once, on the page it returns to.
  function typed(each) {
    document.querySelectorAll("main form").forEach(function (form, f) {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && !/^(hidden|password|file|submit|button)$/.test(el.type)) each(el, f + " " + el.name, /^(checkbox|radio)$/.test(el.type));
      });
    });
  }
  function keepTyped() {
    var switcher = document.querySelector("form.language-switch"), kept = [], saved;
    try { saved = JSON.parse(sessionStorage.getItem("outcry-typed")); sessionStorage.removeItem("outcry-typed"); } catch (e) { return kept; }
    if (saved && saved[0] === location.pathname + location.search) typed(function (el, key, box) {
      saved[1].forEach(function (k) {
        if (k[0] === key && (!box || k[1] === el.value)) { if (box) el.checked = k[2]; else el.value = k[1]; kept.push(el); }
      });
    });
    if (switcher) switcher.addEventListener("submit", function () {
      var list = [];
      typed(function (el, key, box) {
        var o = el.options && el.options[el.selectedIndex];
        if (box ? el.checked !== el.defaultChecked : o ? !o.defaultSelected : el.value !== el.defaultValue) list.push([key, el.value, el.checked]);
      });
      try { sessionStorage.setItem("outcry-typed", JSON.stringify([switcher.elements.next.value, list])); } catch (e) { /* full */ }
    });
    return kept;
  }

  onReady(function () {
    var kept = keepTyped();
    setupErrorSummary();
    setupZipField();
    setupShare();
    setupPrintPage();
    setupCopyButtons();
    setupProviders();
    setupCounters();
    setupMeters();
    setupStatus();
    setupTotals();
    setupSettingsTest();
    kept.forEach(function (el) { el.dispatchEvent(new Event("input", { bubbles: true })); });  // counters, meter
  });
})();
