/* The site's glue: hand each figure's JSON to plotly.js, then wire the β widget.
   No chart is drawn here; plotly.js draws everything. Every number arrives in the page's data. */
(function () {
  "use strict";
  document.documentElement.classList.remove("no-js");

  function renderFigures() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll('script[type="application/json"][data-figure]'));
    return Promise.all(nodes.map(function (node) {
      var target = document.getElementById(node.dataset.figure);
      if (!target) { return null; }
      var fig = JSON.parse(node.textContent);
      return Plotly.newPlot(target, fig.data, fig.layout, fig.config).then(function () {
        var box = target.closest(".figure");
        var placeholder = box ? box.querySelector(".loading") : null;
        if (placeholder) { placeholder.remove(); }
        target.dataset.rendered = "true";
      });
    }));
  }

  function betaWidget() {
    var root = document.getElementById("beta-widget");
    if (!root) { return; }
    var grid = JSON.parse(document.getElementById("beta-grid").textContent);
    var slider = root.querySelector("input[type=range]");
    var density = document.getElementById(root.dataset.densityFigure);
    var curve = document.getElementById(root.dataset.curveFigure);
    var densityTrace = Number(root.dataset.densityTrace);
    var markerTrace = Number(root.dataset.markerTrace);
    var out = {
      p: root.querySelector("[data-readout=p]"),
      beta: root.querySelector("[data-readout=beta]"),
      cos: root.querySelector("[data-readout=cos]")
    };
    function show(node, value) {
      node.textContent = value.toFixed(Number(node.dataset.decimals));
      node.dataset.value = String(value);
    }
    function update() {
      var row = grid.table[Number(slider.value)];
      show(out.p, row.p);
      show(out.beta, row.beta);
      show(out.cos, row.cosine);
      slider.setAttribute("aria-valuetext", "p " + out.p.textContent + ", beta " + out.beta.textContent);
      var ys = grid.xs.map(function (x) { return Math.exp(row.log_norm - Math.pow(Math.abs(x / row.alpha), row.p)); });
      Plotly.restyle(density, { y: [ys] }, [densityTrace]);
      Plotly.restyle(curve, { x: [[row.p]], y: [[row.beta]] }, [markerTrace]);
      root.dataset.shownIndex = slider.value;
    }
    slider.addEventListener("input", update);
    update();
  }

  function start() {
    if (typeof Plotly === "undefined") { return; }
    renderFigures().then(betaWidget);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
