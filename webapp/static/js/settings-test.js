// "Test my settings" on the send step, without leaving the page: the password stays typed. Without this script
// the button posts the form and the page comes back with the same answer (the password then typed again).
(function () {
  "use strict";
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
      answer.textContent = "Signing in to your mail server…";
      // getAttribute: the form's buttons are named "action", which hides the form's own `action` property.
      fetch(form.getAttribute("action"), { method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: Boolean(body.ok), message: body.message || body.error || "" };
          });
        })
        .catch(function () {
          return { ok: false, message: "We couldn't run the test just now. Please try again in a minute." };
        })
        .then(function (result) {
          answer.className = "settings-check " + (result.ok ? "works" : "error");
          answer.textContent = result.message;
          button.disabled = false;
        });
    });
  });
})();
