// rerankit report: sortable tables, Plotly charts and the per-query drill-down.
// All data comes from the JSON embedded in the page; nothing is fetched.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const FIGURES = JSON.parse(document.getElementById("report-figures").textContent);
  const $ = (id) => document.getElementById(id);
  const collator = new Intl.Collator(undefined, { numeric: true });

  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  const fmt = (x, d = 4) => (x === null || x === undefined ? "–" : x.toFixed(d));
  const signed = (x) => (x > 0 ? "+" : "") + x.toFixed(4);
  const pct = (x) => (x === null ? "–" : (100 * x).toFixed(0) + "%");

  // ------------------------------------------------------------ sortable tables
  function cellValue(row, index, numeric) {
    const cell = row.cells[index];
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (!numeric) return raw;
    const value = parseFloat(raw);
    return Number.isNaN(value) ? null : value;
  }

  function sortTable(table, index, direction) {
    const header = table.tHead.rows[0].cells[index];
    const numeric = header.dataset.type !== "text";
    const body = table.tBodies[0];
    // each row's key is read once (thousands of queries sort in milliseconds)
    const keyed = Array.from(body.rows, (row) => [cellValue(row, index, numeric), row]);
    const sign = direction === "ascending" ? 1 : -1;
    keyed.sort(([x], [y]) => {
      if (x === null || y === null) return (x === null) - (y === null);  // blanks last
      return sign * (numeric ? x - y : collator.compare(x, y));
    });
    for (const cell of table.tHead.rows[0].cells) cell.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", direction);
    const fragment = document.createDocumentFragment();
    for (const [, row] of keyed) fragment.appendChild(row);
    body.appendChild(fragment);
  }

  function makeSortable(table) {
    Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
      header.title = "sort";
      header.addEventListener("click", () => {
        const numeric = header.dataset.type !== "text";
        const current = header.getAttribute("aria-sort");
        const first = numeric ? "descending" : "ascending";
        const next = current === first ? (first === "ascending" ? "descending" : "ascending")
          : first;
        sortTable(table, index, next);
      });
    });
  }
  document.querySelectorAll("table.sortable:not([data-manual])").forEach(makeSortable);

  // ------------------------------------------------------------ charts
  const plotConfig = { responsive: true, displaylogo: false,
                       modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  document.querySelectorAll("div.plot").forEach((div) => {
    const figure = FIGURES[div.dataset.figure];
    if (!figure) return;
    Plotly.newPlot(div, figure.data, figure.layout, plotConfig);
    if (div.dataset.group !== undefined) {
      div.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (!point) return;
        choose(Number(div.dataset.group), Number(div.dataset.base), Number(div.dataset.run),
               point.customdata[0]);
        $("drilldown").scrollIntoView({ behavior: "smooth" });
      });
    }
  });

  // ------------------------------------------------------------ drill-down
  const state = { group: 0, a: 0, b: 1, query: null, k: 10 };

  function fillSelect(select, names, chosen) {
    select.innerHTML = names.map((n, i) =>
      `<option value="${i}"${i === chosen ? " selected" : ""}>${escape(n)}</option>`).join("");
  }

  function setGroup(g) {
    state.group = g;
    const runs = DATA.groups[g].runs.map((r) => r.name);
    state.a = 0;
    state.b = runs.length > 1 ? 1 : 0;
    fillSelect($("dd-a"), runs, state.a);
    fillSelect($("dd-b"), runs, state.b);
    state.query = null;
  }

  // The query table is drawn from the data: filter, then sort, then at most SHOWN rows go
  // into the page, so it stays responsive with thousands of queries.
  const SHOWN = 500;
  const COLUMNS = [
    (q) => q.qid, (q) => q.text, (q) => q.a, (q) => q.b, (q) => q.delta, (q) => q.ua,
    (q) => q.ub];
  const querySort = { column: 0, direction: "ascending" };

  function queryData() {
    const group = DATA.groups[state.group];
    const A = group.runs[state.a], B = group.runs[state.b];
    return group.queries.map((qid, i) => {
      const delta = B.values[i] - A.values[i];
      const text = group.texts ? group.texts[i] : "";
      return { qid, text, i, delta, a: A.values[i], b: B.values[i], ua: A.unjudged[i],
               ub: B.unjudged[i], search: (qid + " " + text).toLowerCase(),
               kind: delta > 0 ? "improved" : delta < 0 ? "hurt" : "unchanged" };
    });
  }

  function queryRow(q) {
    return `<tr data-qid="${escape(q.qid)}" data-kind="${q.kind}">` +
      `<td>${escape(q.qid)}</td><td>${escape(q.text)}</td>` +
      `<td>${fmt(q.a)}</td><td>${fmt(q.b)}</td>` +
      `<td class="${q.delta > 0 ? "pos" : q.delta < 0 ? "neg" : ""}">${signed(q.delta)}</td>` +
      `<td>${pct(q.ua)}</td><td>${pct(q.ub)}</td></tr>`;
  }

  function renderQueries() {
    const group = DATA.groups[state.group];
    $("dd-col-a").textContent = `A ${DATA.measure}`;
    $("dd-col-b").textContent = `B ${DATA.measure}`;
    const all = queryData();
    const counts = { improved: 0, hurt: 0, unchanged: 0 };
    for (const q of all) counts[q.kind] += 1;
    const kind = $("dd-filter").value;
    const needle = $("dd-search").value.trim().toLowerCase();
    const chosen = all.filter((q) => (kind === "all" || q.kind === kind) &&
      (!needle || q.search.includes(needle)));
    const key = COLUMNS[querySort.column];
    const sign = querySort.direction === "ascending" ? 1 : -1;
    const text = querySort.column < 2;
    chosen.sort((x, y) => {
      const a = key(x), b = key(y);
      if (a === null || b === null) return (a === null) - (b === null);
      return sign * (text ? collator.compare(a, b) : a - b) ||
        collator.compare(x.qid, y.qid);
    });
    const table = $("dd-queries");
    for (const cell of table.tHead.rows[0].cells) cell.removeAttribute("aria-sort");
    table.tHead.rows[0].cells[querySort.column].setAttribute("aria-sort", querySort.direction);
    table.tBodies[0].innerHTML = chosen.slice(0, SHOWN).map(queryRow).join("");
    $("dd-count").textContent = `${chosen.length} of ${all.length} queries match` +
      (chosen.length > SHOWN ? ` (the first ${SHOWN} are listed: filter or search to narrow)`
        : "") + `; B vs A: ${counts.improved} improved, ${counts.hurt} hurt, ` +
      `${counts.unchanged} unchanged` +
      (group.docs.snippets ? "" : " (no document texts: ids only)");
    markPicked();
  }

  Array.from($("dd-queries").tHead.rows[0].cells).forEach((header, column) => {
    header.addEventListener("click", () => {
      const first = column < 2 ? "ascending" : "descending";
      querySort.direction = querySort.column === column && querySort.direction === first
        ? (first === "ascending" ? "descending" : "ascending") : first;
      querySort.column = column;
      renderQueries();
    });
  });

  function rowsOf(run, index) {
    const start = run.offsets[index], end = run.offsets[index + 1];
    const rows = [];
    for (let r = start; r < end; r++) rows.push(r);
    return rows;
  }

  function gradeCell(grade) {
    if (grade === null || grade < 0) return '<td class="grade unjudged">unjudged</td>';
    return `<td class="grade${grade > 0 ? " rel" : ""}">${grade}</td>`;
  }

  function moveCell(rank, otherRank, isB) {
    if (!isB) {
      return `<td class="num">${otherRank ? otherRank : "–"}</td>`;
    }
    if (!otherRank) return '<td class="num move new" title="not in A\'s embedded rows">new</td>';
    const move = otherRank - rank;
    if (move === 0) return '<td class="num move">=</td>';
    return `<td class="num move ${move > 0 ? "up" : "down"}">${move > 0 ? "▲" : "▼"}` +
      `${Math.abs(move)}</td>`;
  }

  function ranking(group, run, other, index, isB) {
    const docs = group.docs;
    const rows = rowsOf(run, index);
    const otherRank = new Map();
    rowsOf(other, index).forEach((r, i) => otherRank.set(other.doc[r], i + 1));
    const stageHeads = run.stages.map((s) => `<th>${escape(s.label)}</th>`).join("");
    const body = rows.slice(0, state.k).map((r, i) => {
      const d = run.doc[r];
      const title = docs.titles && docs.titles[d] ? docs.titles[d] : "";
      let text;
      if (!docs.snippets) text = "";
      else if (docs.snippets[d] === null) text = '<span class="snippet">(not in the corpus)</span>';
      else text = `<span class="snippet">${escape(docs.snippets[d])}</span>`;
      const stages = run.stages.map((s) => `<td class="num stage">` +
        (s.score[r] === null ? "–" : `${fmt(s.score[r], 3)} (#${s.rank[r]})`) + "</td>").join("");
      return `<tr data-doc="${escape(docs.ids[d])}"><td class="num">${i + 1}</td>` +
        moveCell(i + 1, otherRank.get(d), isB) +
        `<td><span class="doc">${escape(docs.ids[d])}</span>` +
        (title ? ` <span class="title">${escape(title)}</span>` : "") + text + "</td>" +
        gradeCell(run.grade[r]) +
        `<td class="num">${fmt(run.score[r], 3)}</td>${stages}</tr>`;
    }).join("");
    const label = isB ? "B" : "A";
    return `<h4><span class="swatch" style="background:${run.colour}"></span>` +
      `${label}: ${escape(run.name)} — ${DATA.measure} ${fmt(run.values[index])}` +
      `, nDCG@10 judged only ${fmt(run.condensed[index])}` +
      `, unjudged@10 ${pct(run.unjudged[index])}</h4>` +
      `<div class="scroll"><table class="ranking" data-run="${escape(run.name)}">` +
      `<thead><tr><th>rank</th><th>${isB ? "vs A" : "in B"}</th><th>document</th>` +
      `<th>grade</th><th>score</th>${stageHeads}</tr></thead><tbody>${body}</tbody></table>` +
      (rows.length === 0 ? "<p>No documents retrieved.</p>" : "") + "</div>";
  }

  function renderDetail() {
    const detail = $("dd-detail");
    const group = DATA.groups[state.group];
    const index = state.query === null ? -1 : group.queries.indexOf(state.query);
    if (index < 0) { detail.hidden = true; return; }
    const A = group.runs[state.a], B = group.runs[state.b];
    const text = group.texts ? group.texts[index] : "(query text not available)";
    $("dd-title").textContent = `Query ${state.query}: ${text}`;
    const delta = B.values[index] - A.values[index];
    $("dd-summary").textContent = `${DATA.measure}: A ${fmt(A.values[index])}, B ` +
      `${fmt(B.values[index])}, Δ ${signed(delta)}. Grades from the qrels; "unjudged" = ` +
      `not in the qrels (or graded negative). Rows embedded: top ${DATA.depth} per run.`;
    $("dd-side-a").innerHTML = ranking(group, A, B, index, false);
    $("dd-side-b").innerHTML = ranking(group, B, A, index, true);
    detail.hidden = false;
    markPicked();
  }

  function markPicked() {
    const body = $("dd-queries").tBodies[0];
    for (const row of body.querySelectorAll("tr.picked")) row.classList.remove("picked");
    if (state.query === null) return;
    const row = body.querySelector(`tr[data-qid="${CSS.escape(state.query)}"]`);
    if (row) row.classList.add("picked");
  }

  function choose(group, a, b, query) {
    if (group !== state.group) { $("dd-group").value = String(group); setGroup(group); }
    state.a = a; state.b = b; state.query = query;
    $("dd-a").value = String(a); $("dd-b").value = String(b);
    renderQueries();
    renderDetail();
  }

  fillSelect($("dd-group"), DATA.groups.map((g) => g.name), 0);
  $("dd-group").closest("label").hidden = DATA.groups.length < 2;
  setGroup(0);
  $("dd-group").addEventListener("change", (e) => {
    setGroup(Number(e.target.value)); renderQueries(); renderDetail();
  });
  $("dd-a").addEventListener("change", (e) => {
    state.a = Number(e.target.value); renderQueries(); renderDetail();
  });
  $("dd-b").addEventListener("change", (e) => {
    state.b = Number(e.target.value); renderQueries(); renderDetail();
  });
  $("dd-filter").addEventListener("change", renderQueries);
  $("dd-search").addEventListener("input", renderQueries);
  $("dd-k").addEventListener("change", (e) => { state.k = Number(e.target.value); renderDetail(); });
  $("dd-queries").tBodies[0].addEventListener("click", (e) => {
    const row = e.target.closest("tr");
    if (!row) return;
    state.query = row.dataset.qid;
    renderDetail();
  });
  renderQueries();
})();
