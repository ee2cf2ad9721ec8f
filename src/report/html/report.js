"use strict";
(function () {
  var root = document.documentElement;
  var errors = 0;
  window.addEventListener("error", function () {
    errors += 1;
    root.setAttribute("data-js-errors", String(errors));
  });

  // Sortable tables: a click on a header button sorts by that column and a
  // second click reverses the order. Cells may carry data-sort, the value to
  // sort by (numbers, times); header cells with class "number" sort numerically.
  function sortKey(cell, numeric) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (numeric) {
      var value = parseFloat(raw);
      return isNaN(value) ? -Infinity : value;
    }
    return raw.trim().toLowerCase();
  }

  function sortTable(table, header, index) {
    var numeric = header.classList.contains("number");
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, position) { row.setAttribute("data-position", String(position)); });
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[index], numeric);
      var y = sortKey(b.cells[index], numeric);
      if (x === y) {
        // Equal keys keep their current order, in both directions.
        return Number(a.getAttribute("data-position")) - Number(b.getAttribute("data-position"));
      }
      var order = x < y ? -1 : 1;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      var button = header.querySelector("button");
      if (button) {
        button.addEventListener("click", function () { sortTable(table, header, index); });
      }
    });
  });

  // Fit each label's box to its text as the browser measured it; the
  // generator could only estimate the width.
  Array.prototype.forEach.call(document.querySelectorAll(".edge-label .label"), function (label) {
    var box = label.parentNode.querySelector(".label-box");
    var width = label.getComputedTextLength() + 12;
    var x = Number(label.getAttribute("x"));
    box.setAttribute("x", String(x - width / 2));
    box.setAttribute("width", String(width));
  });

  // Record what was drawn, so a browser test can read it back from the DOM:
  // every path with a length, inside the map's view box.
  var map = document.querySelector("svg.flow-map");
  var drawn = 0;
  if (map) {
    var view = map.viewBox.baseVal;
    Array.prototype.forEach.call(map.querySelectorAll(".edge"), function (edge) {
      var line = edge.querySelector(".edge-line");
      var box = line.getBBox();
      var inside = box.x >= view.x && box.y >= view.y &&
        box.x + box.width <= view.x + view.width && box.y + box.height <= view.y + view.height;
      var label = map.querySelector(".edge-label[data-path=\"" + CSS.escape(edge.getAttribute("data-path")) + "\"] .label");
      if (line.getTotalLength() > 0 && inside && label && label.textContent.length > 0) {
        drawn += 1;
        edge.setAttribute("data-drawn", "true");
      }
    });
  }
  root.setAttribute("data-paths-drawn", String(drawn));
  root.setAttribute("data-render-check", "ok");
})();
