// Charts read at a glance, computed in the browser from the CDR list (GET …/calls): calls per hour, answer-seizure
// ratio, average call duration, post-dial delay, failures by SIP code. Inline SVG, no chart library.
import { html } from 'htm/preact';
import type { CdrStats } from './cdr-stats.js';

const W = 520;
const H = 160;
const PAD = 24;

interface Bar {
  label: string;
  value: number;
  /** A darker bar inside this one (answered calls; the median delay). */
  part?: number;
  /** The bar's tooltip; `label: value` by default. */
  title?: string;
}

/** Bars of `values` with labels under every few; `title` is the chart's accessible name. */
function bars(title: string, values: Bar[], className: string, format: (n: number) => string = String) {
  const max = Math.max(className === 'pdd' ? 0.1 : 1, ...values.map((v) => v.value));
  const step = values.length ? (W - PAD * 2) / values.length : 0;
  const every = Math.max(1, Math.ceil(values.length / 8));
  return html`<svg class=${`chart ${className}`} viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${title}>
    <title>${title}</title>
    <line x1=${PAD} y1=${H - PAD} x2=${W - PAD} y2=${H - PAD} class="axis" />
    <text x=${PAD} y="12" class="tick">${format(max)}</text>
    ${values.map((v, i) => {
      const h = ((H - PAD * 2) * v.value) / max;
      const ph = ((H - PAD * 2) * (v.part ?? 0)) / max;
      const w = Math.min(36, Math.max(1, step * 0.7));
      const x = PAD + i * step + (step - w) / 2;
      return html`<g>
        <rect x=${x} y=${H - PAD - h} width=${w} height=${h} class="bar"
          ><title>${v.title ?? `${v.label}: ${v.value}`}</title></rect
        >
        ${v.part !== undefined && html`<rect x=${x} y=${H - PAD - ph} width=${w} height=${ph} class="bar-part" />`}
        ${
          i % every === 0 &&
          html`<text x=${x + w / 2} y=${H - 8} class="tick" text-anchor="middle">${v.label}</text>`
        }
      </g>`;
    })}
  </svg>`;
}

/** A post-dial delay: milliseconds below a second, seconds with one decimal below 10 s, else whole seconds. */
export const seconds = (s: number) =>
  s < 1 ? `${Math.round(s * 1000)} ms` : `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;

export function CdrCharts({ stats }: { stats: CdrStats }) {
  const pct = stats.asr === null ? '–' : `${(stats.asr * 100).toFixed(1)} %`;
  const acd =
    stats.acd === null
      ? '–'
      : `${Math.floor(stats.acd / 60)}:${String(Math.round(stats.acd % 60)).padStart(2, '0')}`;
  return html`<section class="charts" data-testid="charts">
    <div class="kpis">
      <div class="kpi">
        <span class="kpi-value" data-testid="kpi-calls">${stats.total}</span><span>calls</span>
      </div>
      <div class="kpi">
        <span class="kpi-value" data-testid="kpi-asr">${pct}</span><span>ASR (answered / attempts)</span>
      </div>
      <div class="kpi">
        <span class="kpi-value" data-testid="kpi-acd">${acd}</span
        ><span>ACD (average answered duration)</span>
      </div>
      <div class="kpi">
        <span class="kpi-value" data-testid="kpi-pdd">${stats.pdd ? seconds(stats.pdd.median) : '–'}</span
        ><span>PDD median (start to ringing)${stats.pdd ? ` · p90 ${seconds(stats.pdd.p90)}` : ''}</span>
      </div>
    </div>
    <div class="chart-row">
      <figure>
        <figcaption>Calls per hour (UTC; answered darker)</figcaption>
        ${bars(
          'calls per hour',
          stats.perHour.map((h) => ({ label: h.hour.slice(11, 13) + 'h', value: h.calls, part: h.answered })),
          'per-hour',
        )}
      </figure>
      <figure data-testid="chart-pdd">
        <figcaption>Post-dial delay per hour (UTC; median darker, p90 light)</figcaption>
        ${
          stats.pddPerHour.length === 0
            ? html`<p class="muted">no call rang</p>`
            : bars(
                'post-dial delay per hour, median and p90',
                stats.pddPerHour.map((h) => ({
                  label: h.hour.slice(11, 13) + 'h',
                  value: h.p90,
                  part: h.median,
                  title: `${h.hour.slice(11, 13)}h: median ${seconds(h.median)}, p90 ${seconds(h.p90)} (${h.calls} calls)`,
                })),
                'pdd',
                seconds,
              )
        }
      </figure>
      <figure>
        <figcaption>Failures by SIP code</figcaption>
        ${
          stats.failures.length === 0
            ? html`<p class="muted">no failed calls</p>`
            : bars(
                'failures by SIP code',
                stats.failures.map((f) => ({ label: f.code, value: f.calls })),
                'failures',
              )
        }
      </figure>
    </div>
  </section>`;
}
