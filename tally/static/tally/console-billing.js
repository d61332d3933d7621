// The billing run form's client finder: filters the checkbox list as the operator types,
// and choosing a client switches the run to "only the clients chosen". Without it the
// page still works: every client is listed (the browser's find) and the radio decides.
(function () {
  var box = document.querySelector(".client-filter");
  var input = document.getElementById("client-filter");
  var list = document.getElementById("client-list");
  var count = document.getElementById("client-filter-count");
  if (!box || !input || !list) return;
  box.hidden = false;
  var items = Array.prototype.slice.call(list.querySelectorAll("li"));
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute("data-search");
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      li.hidden = !match;
      if (match) shown += 1;
    });
    count.textContent = words.length ? shown + " of " + items.length + " clients shown" : "";
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") e.preventDefault(); // Enter filters; it does not start the run
  });
  list.addEventListener("change", function (e) {
    if (e.target.checked) {
      var chosen = document.querySelector('input[name="scope"][value="chosen"]');
      if (chosen) chosen.checked = true;
    }
  });
})();
