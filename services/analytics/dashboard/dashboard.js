// The analytics dashboard: reads /api/<measure> with the filters of the form and draws each measure
// with Chart.js. `document.body.dataset.renders` counts completed renders (the browser test waits on it).
(function () {
  'use strict';
  const form = document.getElementById('filters');
  const status = document.getElementById('status');
  const timingGroup = document.getElementById('timing-group');
  const charts = {};
  const palette = [
    '#3366cc',
    '#dc3912',
    '#ff9900',
    '#109618',
    '#990099',
    '#0099c6',
    '#dd4477',
    '#66aa00',
    '#b82e2e',
    '#316395',
  ];
  let renders = 0;

  function params(extra) {
    const p = new URLSearchParams();
    const data = new FormData(form);
    for (const [k, v] of data.entries()) if (v) p.append(k, String(v));
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p;
  }

  async function get(measure, extra) {
    const res = await fetch(`/api/${measure}?${params(extra)}`);
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function label(iso, granularity) {
    const t = iso.replace('T', ' ').replace(/:00(\.000)?Z$/, '');
    return granularity === 'day' ? t.slice(0, 10) : t.slice(5);
  }

  function renderVolume(v) {
    const labels = (v.buckets || []).map((b) => label(b, v.granularity));
    const series = v.series || [];
    const datasets = series.map((s, i) => ({
      type: 'line',
      label: s.key,
      data: s.values,
      borderColor: palette[i % palette.length],
      backgroundColor: palette[i % palette.length],
      pointRadius: 0,
      borderWidth: 1.5,
      tension: 0.2,
    }));
    const index = new Map((v.buckets || []).map((b, i) => [b, i]));
    const anomalies = [];
    for (const s of series)
      for (const a of s.anomalies || [])
        anomalies.push({
          x: labels[index.get(a.bucket)],
          y: a.value,
          kind: a.kind,
          key: s.key,
          baseline: a.baseline,
        });
    datasets.push({
      type: 'scatter',
      label: 'anomalies',
      data: anomalies,
      pointStyle: 'triangle',
      pointRadius: 7,
      borderColor: '#b3261e',
      backgroundColor: '#b3261e',
    });
    draw('volume', {
      data: { labels, datasets },
      options: {
        animation: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: { y: { beginAtZero: true, title: { display: true, text: 'fires' } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: (c) =>
                c.dataset.label === 'anomalies'
                  ? `${c.raw.kind} in ${c.raw.key}: ${c.raw.y} (expected ${Math.round(c.raw.baseline)})`
                  : `${c.dataset.label}: ${c.parsed.y}`,
            },
          },
        },
      },
    });
  }

  function renderFunnel(f) {
    const stages = ['sent', 'delivered', 'opened', 'clicked', 'converted'];
    draw('funnel', {
      type: 'bar',
      data: {
        labels: stages,
        datasets: (f.rows || []).map((r, i) => ({
          label: r.key,
          data: stages.map((s) => Number(r[s] || 0)),
          backgroundColor: palette[i % palette.length],
        })),
      },
      options: { animation: false, scales: { y: { beginAtZero: true } } },
    });
  }

  function renderLift(l) {
    const rows = (l.rows || []).filter((r) => r.baseline === 'holdout');
    const pct = (x) => Math.round(x * 10000) / 100;
    draw('lift', {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.key),
        datasets: [
          {
            label: '95% interval (percentage points)',
            data: rows.map((r) => [pct(r.absoluteCi.low), pct(r.absoluteCi.high)]),
            backgroundColor: '#3366cc55',
            borderColor: '#3366cc',
            borderWidth: 1,
            barPercentage: 0.4,
          },
          {
            type: 'scatter',
            label: 'absolute lift (percentage points)',
            data: rows.map((r) => ({ x: r.key, y: pct(r.absoluteLift) })),
            backgroundColor: '#1d2330',
            pointRadius: 5,
          },
        ],
      },
      options: {
        animation: false,
        scales: { y: { title: { display: true, text: 'conversion rate lift (pp)' } } },
      },
    });
    document.getElementById('lift-method').textContent = l.method || '';
  }

  function renderTiming(t) {
    const rows = t.rows || [];
    draw('timing', {
      type: 'bar',
      data: {
        labels: rows.map((r) => (r.significant ? `${r.key} *` : r.key)),
        datasets: [
          { label: 'open rate', data: rows.map((r) => r.openRate || 0), backgroundColor: palette[0] },
          { label: 'click rate', data: rows.map((r) => r.clickRate || 0), backgroundColor: palette[2] },
          {
            label: 'conversion rate',
            data: rows.map((r) => r.conversionRate || 0),
            backgroundColor: palette[3],
          },
        ],
      },
      options: { animation: false, scales: { y: { beginAtZero: true } } },
    });
  }

  function renderReasons(r) {
    const rows = r.rows || [];
    draw('reasons', {
      type: 'bar',
      data: {
        labels: rows.map((x) => `${x.key} (${x.status})`),
        datasets: [{ label: 'count', data: rows.map((x) => Number(x.count)), backgroundColor: palette[1] }],
      },
      options: { animation: false, indexAxis: 'y' },
    });
  }

  function renderRoi(r) {
    const money = (x) => (x || 0).toFixed(2);
    const body = document.querySelector('#roi tbody');
    body.replaceChildren(
      ...(r.rows || []).map((row) => {
        const tr = document.createElement('tr');
        const cells = [
          row.key,
          String(row.messages || 0),
          money(row.attributedValue),
          money(row.messageCost),
          money(row.infraCost),
          money(row.net),
          row.roi === undefined ? '–' : `${Math.round(row.roi * 100)}%`,
        ];
        for (const c of cells) {
          const td = document.createElement('td');
          td.textContent = c;
          tr.appendChild(td);
        }
        if ((row.net || 0) < 0) tr.lastChild.className = 'negative';
        return tr;
      }),
    );
  }

  async function fillFilters() {
    const res = await fetch('/api/dimensions');
    const dims = await res.json();
    for (const [name, values] of [
      ['trigger', dims.triggers],
      ['workflow', dims.workflows],
      ['channel', dims.channels],
    ]) {
      const select = form.elements[name];
      const current = select.value;
      select.replaceChildren(new Option('all', ''), ...values.map((v) => new Option(v, v)));
      select.value = values.includes(current) ? current : '';
    }
  }

  async function render() {
    status.textContent = 'loading…';
    try {
      const [volume, funnel, lift, timing, reasons, roi] = await Promise.all([
        get('volume'),
        get('funnel', { group_by: 'workflow' }),
        get('lift'),
        get('timing', { group_by: timingGroup.value }),
        get('reasons'),
        get('roi', { group_by: 'workflow' }),
      ]);
      renderVolume(volume);
      renderFunnel(funnel);
      renderLift(lift);
      renderTiming(timing);
      renderReasons(reasons);
      renderRoi(roi);
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      status.textContent = `error: ${err.message}`;
    }
    document.body.dataset.renders = String(++renders);
  }

  form.addEventListener('change', () => void render());
  timingGroup.addEventListener('change', () => void render());
  window.kairosDashboard = { charts, render };
  void fillFilters().then(render);
  setInterval(() => void fillFilters().then(render), 30_000);
})();
