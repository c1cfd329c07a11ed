// Draws the overview's charts from the JSON the page carries (no inline script: the
// Content-Security-Policy allows scripts from the package only).
(function () {
  function draw() {
    var node = document.getElementById("chart-data");
    if (!node || typeof Chart === "undefined") return;
    var d = JSON.parse(node.textContent);
    var opts = {
      animation: false,
      responsive: true,
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    };
    var make = function (id, config) {
      var canvas = document.getElementById(id);
      if (!canvas) return;
      var old = Chart.getChart(canvas);
      if (old) old.destroy();
      new Chart(canvas, config);
    };
    make("volume-chart", {
      type: "line",
      data: { labels: d.days, datasets: [
        { label: "opened", data: d.opened, borderColor: "#2563eb", backgroundColor: "#2563eb" },
        { label: "resolved", data: d.resolved, borderColor: "#16a34a", backgroundColor: "#16a34a" }
      ] },
      options: opts
    });
    make("backlog-chart", {
      type: "bar",
      data: { labels: d.states, datasets: [{ label: "cases", data: d.stateCounts, backgroundColor: "#f59e0b" }] },
      options: opts
    });
    make("ratings-chart", {
      type: "bar",
      data: { labels: ["1", "2", "3", "4", "5"], datasets: [{ label: "answers", data: d.ratings, backgroundColor: "#7c3aed" }] },
      options: opts
    });
    document.body.setAttribute("data-charts", "drawn");
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
