// For the page that embeds an Outcry campaign: include this next to the <iframe> from the dashboard's snippet.
// It sizes each Outcry frame to the height the frame reports, and believes only messages that come from that
// frame's own window and from the origin its address names.
(function () {
  "use strict";
  var MAX = 20000;
  function frames() {
    return Array.prototype.slice.call(document.querySelectorAll("iframe[data-outcry-embed]"));
  }
  function prepare(frame) {
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.setAttribute("scrolling", "no");
  }
  frames().forEach(prepare);
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "outcry:height") return;
    var height = Number(data.height);
    if (!isFinite(height) || height <= 0 || height > MAX) return;
    frames().forEach(function (frame) {
      var origin;
      try { origin = new URL(frame.src, document.baseURI).origin; } catch (e) { return; }
      if (event.source !== frame.contentWindow || event.origin !== origin) return;
      prepare(frame);
      frame.style.height = Math.ceil(height) + "px";
    });
  });
})();
