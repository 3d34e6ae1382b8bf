// The run page's event table: filter by text and by kind.
"use strict";
const text = document.getElementById("filter"), kind = document.getElementById("kind");
function apply() {
  const q = text.value.toLowerCase(), k = kind.value;
  for (const row of document.querySelectorAll("#events tbody tr")) {
    const ok = (!k || row.dataset.kind === k) && (!q || row.textContent.toLowerCase().includes(q));
    row.hidden = !ok;
  }
}
text.addEventListener("input", apply);
kind.addEventListener("change", apply);
