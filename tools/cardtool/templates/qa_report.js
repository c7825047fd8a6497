const fold = s => s.toLowerCase().replace(/đ/g, 'd').normalize('NFD').replace(/[\u0300-\u036f]/g, '');
const q = document.getElementById('q'), g = document.getElementById('g'), v = document.getElementById('v');
const rows = Array.from(document.querySelectorAll('#cardtable tbody tr'));
function apply() {
  const words = fold(q.value).split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const row of rows) {
    const keep = words.every(w => row.dataset.s.includes(w))
      && (!g.value || row.dataset.g.includes(' ' + g.value + ' ')) && (!v.value || row.dataset.v === v.value);
    row.hidden = !keep;
    shown += keep;
  }
  document.getElementById('n').textContent = shown;
  history.replaceState(null, '', '#' + new URLSearchParams({q: q.value, g: g.value, v: v.value}));
}
if (q) {
  const given = new URLSearchParams(location.hash.slice(1));
  q.value = given.get('q') || ''; g.value = given.get('g') || ''; v.value = given.get('v') || '';
  q.oninput = g.onchange = v.onchange = apply;
  for (const button of document.querySelectorAll('button[data-group]')) {
    button.onclick = () => { g.value = button.dataset.group; v.value = ''; q.value = ''; apply();
                             document.getElementById('cards').scrollIntoView(); };
  }
  apply();
}
