// Sorting and filtering of the error-analysis page (rlemask.report_page).
// Plain JavaScript, inlined into index.html: no framework, nothing fetched.
// Without JavaScript the page is the same table, every row, in worst-first order.
(function () {
  "use strict";
  const table = document.getElementById("rows");
  if (!table) return;
  let tbody = table.tBodies[0];
  const rows = Array.from(tbody.rows);  // the page's own (worst-first) order
  let order = rows;  // the order shown now
  const headers = Array.from(table.tHead.rows[0].cells);
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const shown = document.getElementById("shown");
  const form = document.getElementById("filters");
  // Rows shown at most, more on request: a browser lays out every visible row of a
  // table on each sort, which takes seconds for 10,000 rows; hidden rows cost nothing.
  const STEP = 1000;
  let limit = STEP;
  let current = { col: -1, dir: 1 };

  // A cell's sort key: data-v where the text is rounded (scores), else the text.
  function key(row, col, kind) {
    const cell = row.cells[col];
    const text = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
    if (kind === "num") return text === "" ? NaN : Number(text);
    return text;
  }

  function compare(a, b, kind, dir) {
    if (kind === "num") {
      const an = Number.isNaN(a), bn = Number.isNaN(b);
      if (an || bn) return an === bn ? 0 : (an ? 1 : -1);  // blanks last, either way
      return (a - b) * dir;
    }
    return collator.compare(a, b) * dir;
  }

  const keys = new Map();  // column -> the rows' keys, read from the cells once

  function sortBy(col, dir) {
    const kind = headers[col].dataset.kind;
    if (!keys.has(col)) keys.set(col, rows.map((row) => key(row, col, kind)));
    const column = keys.get(col);
    const keyed = rows.map((row, i) => [column[i], i, row]);
    keyed.sort((a, b) => compare(a[0], b[0], kind, dir) || a[1] - b[1]);
    order = keyed.map((item) => item[2]);
    show();  // hide what falls past the limit before the rows go back into the page
    // rows moved into a detached body, swapped in once: moving each row within the
    // live table costs a style and layout invalidation per row
    const body = tbody.cloneNode(false);
    for (const row of order) body.appendChild(row);
    table.replaceChild(body, tbody);
    tbody = body;
    headers.forEach((h) => h.removeAttribute("aria-sort"));
    headers[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    current = { col: col, dir: dir };
  }

  headers.forEach((th, col) => {
    if (!th.dataset.kind) return;  // the thumbnail column
    const button = document.createElement("button");
    button.type = "button";
    button.title = "sort by " + th.textContent.trim();
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    if (th.getAttribute("aria-sort") === "ascending") current = { col: col, dir: 1 };
    button.addEventListener("click", () => {
      sortBy(col, current.col === col && current.dir > 0 ? -1 : 1);
    });
  });

  function matcher() {
    if (!form) return () => true;
    const outcomes = new Set(
      Array.from(form.querySelectorAll("input[name=outcome]:checked"), (box) => box.value));
    const select = form.querySelector("select[name=class]");
    const cls = select ? select.value : "";
    return (row) => outcomes.has(row.dataset.outcome) &&
      (cls === "" || row.dataset.class === cls);
  }

  const more = document.createElement("p");
  more.id = "more";
  more.hidden = true;
  const next = document.createElement("button");
  next.type = "button";
  const all = document.createElement("button");
  all.type = "button";
  all.textContent = "show all";
  more.append(next, " ", all);
  table.after(more);
  next.addEventListener("click", () => { limit += STEP; show(); });
  all.addEventListener("click", () => { limit = Infinity; show(); });

  // Show the rows that pass the filters, the first `limit` of them in the current order.
  function show() {
    const matches = matcher();
    let matching = 0;
    for (const row of order) {
      const ok = matches(row);
      if (ok) matching += 1;
      row.hidden = !(ok && matching <= limit);
    }
    const n = Math.min(matching, limit);
    const en = (x) => x.toLocaleString("en");
    shown.textContent = matching > n
      ? "Showing the first " + en(n) + " of " + en(matching) + " matching rows (" +
        en(rows.length) + " in all)"
      : "Showing " + en(n) + " of " + en(rows.length) + " rows";
    more.hidden = matching <= n;
    next.textContent = "show " + en(Math.min(STEP, matching - n)) + " more";
  }

  if (form) {
    form.hidden = false;
    form.addEventListener("change", show);
    form.addEventListener("submit", (event) => event.preventDefault());
  }
  show();
})();
