// Runs before the first paint so a dark-mode user never sees a white flash.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("pp-theme"); } catch (e) { /* storage may be off */ }
  var dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "dark" : "light";
})();
