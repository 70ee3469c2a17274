// The voxgate web console (/console): a single-page app on the provisioning API. Signed in with an API key
// (kept in sessionStorage for the tab), it shows what the key's role and scope allow: a viewer sees no
// buttons that change anything (and the API would refuse them anyway), a tenant key only its tenant.
// Views are chosen by the URL fragment (#/users …), so the server has one page to serve.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  api,
  ApiError,
  describe,
  followEvents,
  listAll,
  session,
  type Json,
  type JsonObject,
  type Role,
  type Whoami,
} from './api.js';
import { cdrStats, type Cdr } from './cdr-stats.js';
import { CdrCharts, seconds } from './charts.js';
import { ApiKeysPage, RecordingsPage, WebhooksPage } from './operations.js';
import { bodySchema, SchemaForm, type BodySchema } from './schema-form.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const TENANT_ITEM = 'voxgate.console.tenant';

interface Tenant {
  id: string;
  name: string;
  sipDomain: string;
  status: string;
}

interface Ctx {
  me: Whoami;
  tenant: Tenant | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Sign in

function Login({ onLogin }: { onLogin: (me: Whoami) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      const me = await api<Whoami>('GET', '/v1/whoami', undefined, key.trim());
      session.save(key.trim());
      onLogin(me);
    } catch (err) {
      setError(
        err instanceof ApiError && err.problem.status === 401 ? 'This API key is not valid.' : describe(err),
      );
    }
  };
  return html`<main class="login">
    <h1>voxgate console</h1>
    <form onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input
        id="api-key"
        name="apiKey"
        type="password"
        autocomplete="off"
        placeholder="vxg_…"
        value=${key}
        onInput=${(e: Event) => setKey((e.currentTarget as HTMLInputElement).value)}
      />
      ${error && html`<p class="form-error" role="alert">${error}</p>`}
      <button type="submit" class="primary">Sign in</button>
    </form>
    <p class="muted">
      The key stays in this tab only (sessionStorage). Its role decides what you can see and change.
      Softphone: <a href="/console/phone">/console/phone</a>.
    </p>
  </main>`;
}

// ---------------------------------------------------------------------------------------------------------
// Resources: tenants, users, trunks, numbers, routes

interface ResourceDef {
  id: string;
  title: string;
  /** The collection's path template as OpenAPI writes it. */
  template: string;
  columns: {
    key: string;
    label: string;
    /** The cell as text (what search matches). */
    render?: (item: JsonObject) => string;
    /** The cell as drawn, when more than its text. */
    view?: (item: JsonObject) => unknown;
  }[];
  /** Reload the list this often (trunk health changes with the gateways' checks, not with an event). */
  refreshMs?: number;
  /** Can this key change the resource? */
  canChange: (me: Whoami) => boolean;
  tenantScoped: boolean;
}

const operatorChanges = (me: Whoami) => RANK[me.role] >= RANK.operator;
const yesNo = (v: Json | undefined) => (v === true ? 'yes' : v === false ? 'no' : '');

const RESOURCES: ResourceDef[] = [
  {
    id: 'tenants',
    title: 'Tenants',
    template: '/v1/tenants',
    tenantScoped: false,
    canChange: (me) => me.role === 'admin' && me.tenantId === null,
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'sipDomain', label: 'SIP domain' },
      { key: 'status', label: 'Status' },
      { key: 'maxConcurrentCalls', label: 'Max calls' },
      { key: 'id', label: 'Id' },
    ],
  },
  {
    id: 'users',
    title: 'Users',
    template: '/v1/tenants/{tenantId}/users',
    tenantScoped: true,
    canChange: operatorChanges,
    columns: [
      { key: 'username', label: 'Username' },
      { key: 'displayName', label: 'Display name' },
      { key: 'callerId', label: 'Caller id' },
      { key: 'enabled', label: 'Enabled', render: (u) => yesNo(u.enabled) },
      { key: 'mediaEncryption', label: 'Media' },
      { key: 'sipUri', label: 'SIP URI' },
    ],
  },
  {
    id: 'trunks',
    title: 'Trunks',
    template: '/v1/tenants/{tenantId}/trunks',
    tenantScoped: true,
    canChange: operatorChanges,
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'host', label: 'Host' },
      { key: 'port', label: 'Port' },
      { key: 'transport', label: 'Transport' },
      { key: 'enabled', label: 'Enabled', render: (t) => yesNo(t.enabled) },
      { key: 'health', label: 'Health', render: (t) => trunkHealth(t).state, view: (t) => TrunkHealth(t) },
    ],
    refreshMs: 15_000,
  },
  {
    id: 'numbers',
    title: 'Numbers',
    template: '/v1/tenants/{tenantId}/numbers',
    tenantScoped: true,
    canChange: operatorChanges,
    columns: [
      { key: 'e164', label: 'Number' },
      { key: 'userId', label: 'User id' },
    ],
  },
  {
    id: 'routes',
    title: 'Routes',
    template: '/v1/tenants/{tenantId}/routes',
    tenantScoped: true,
    canChange: operatorChanges,
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'pattern', label: 'Pattern' },
      { key: 'priority', label: 'Priority' },
      { key: 'stripDigits', label: 'Strip' },
      { key: 'prefix', label: 'Prefix' },
      {
        key: 'trunks',
        label: 'Trunks',
        render: (r) =>
          Array.isArray(r.trunks)
            ? r.trunks
                .map((t) => (t && typeof t === 'object' && !Array.isArray(t) ? String(t.name) : ''))
                .join(', ')
            : '',
      },
    ],
  },
];

interface TrunkHealthReport {
  state: 'up' | 'down' | 'unknown';
  gateways: {
    gateway: string;
    reachable: boolean;
    checkedAt: string;
    registration?: { state: string; code: number | null; expiresAt?: string };
  }[];
}

const asObject = (v: Json | undefined): JsonObject | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;

/** A trunk's `health` as the API gives it (the gateways' last OPTIONS check and outbound registration). */
function trunkHealth(t: JsonObject): TrunkHealthReport {
  const h = asObject(t.health);
  const state = h?.state === 'up' || h?.state === 'down' ? h.state : 'unknown';
  const gateways = Array.isArray(h?.gateways) ? h.gateways.map(asObject).filter((g) => g !== undefined) : [];
  return {
    state,
    gateways: gateways.map((g) => {
      const r = asObject(g.registration);
      return {
        gateway: String(g.gateway ?? ''),
        reachable: g.reachable === true,
        checkedAt: String(g.checkedAt ?? ''),
        ...(r
          ? {
              registration: {
                state: String(r.state ?? ''),
                code: typeof r.code === 'number' ? r.code : null,
                ...(typeof r.expiresAt === 'string' ? { expiresAt: r.expiresAt } : {}),
              },
            }
          : {}),
      };
    }),
  };
}

/** The trunk's state (up, down, unknown) with a dot, each gateway's last check and registration beneath. */
function TrunkHealth(t: JsonObject) {
  const h = trunkHealth(t);
  const why =
    h.state === 'unknown'
      ? 'no gateway reports this trunk (health checks off, or no gateway running)'
      : h.state === 'up'
        ? 'a gateway reached it with its last OPTIONS check'
        : 'every gateway that checks it failed to reach it';
  return html`<span
      class=${`health health-${h.state}`}
      data-testid="trunk-health"
      data-state=${h.state}
      title=${why}
      ><span class=${h.state === 'up' ? 'dot on' : h.state === 'down' ? 'dot down' : 'dot'}></span
      >${h.state}</span
    >
    ${h.gateways.map((g) => {
      const registration = g.registration
        ? ` · registration ${g.registration.state}${g.registration.code ? ` ${g.registration.code}` : ''}`
        : '';
      const line = `${g.gateway}: ${g.reachable ? 'reachable' : 'unreachable'} · checked ${new Date(g.checkedAt).toLocaleTimeString()}${registration}`;
      return html`<div class="muted health-detail" data-gateway=${g.gateway}>${line}</div>`;
    })}`;
}

function pathOf(def: ResourceDef, tenant: Tenant | undefined): string | undefined {
  if (!def.tenantScoped) return def.template;
  return tenant ? def.template.replace('{tenantId}', encodeURIComponent(tenant.id)) : undefined;
}

function cell(item: JsonObject, column: ResourceDef['columns'][number]): string {
  if (column.render) return column.render(item);
  const v = item[column.key];
  if (v === null || v === undefined) return '';
  return Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function ResourcePage({
  def,
  ctx,
  onTenantsChanged,
}: {
  def: ResourceDef;
  ctx: Ctx;
  onTenantsChanged: () => void;
}) {
  const path = pathOf(def, ctx.tenant);
  const [items, setItems] = useState<JsonObject[] | undefined>();
  const [error, setError] = useState('');
  const [search, setSearch] = useState('');
  const [editing, setEditing] = useState<
    { mode: 'create' } | { mode: 'edit'; item: JsonObject } | undefined
  >();
  const [schema, setSchema] = useState<BodySchema | undefined>();
  const canChange = def.canChange(ctx.me);

  const load = useCallback(async () => {
    if (!path) return;
    setError('');
    try {
      setItems(await listAll<JsonObject>(path));
    } catch (err) {
      setError(describe(err));
    }
  }, [path]);
  useEffect(() => {
    setItems(undefined);
    setEditing(undefined);
    void load();
    if (!def.refreshMs) return undefined;
    const t = window.setInterval(() => void load(), def.refreshMs);
    return () => window.clearInterval(t);
  }, [load, def.refreshMs]);
  useEffect(() => {
    if (!editing) return setSchema(undefined);
    const template = editing.mode === 'create' ? def.template : `${def.template}/{id}`;
    void bodySchema(editing.mode === 'create' ? 'POST' : 'PATCH', template).then(setSchema);
  }, [editing, def.template]);

  if (!path) return html`<p class="muted">Choose a tenant first.</p>`;
  const needle = search.trim().toLowerCase();
  const shown = (items ?? []).filter(
    (item) =>
      !needle ||
      def.columns.some((c) => cell(item, c).toLowerCase().includes(needle)) ||
      String(item.id).includes(needle),
  );

  const save = async (body: JsonObject) => {
    if (editing?.mode === 'edit')
      await api('PATCH', `${path}/${encodeURIComponent(String(editing.item.id))}`, body);
    else await api('POST', path, body);
    setEditing(undefined);
    await load();
    if (def.id === 'tenants') onTenantsChanged();
  };
  const remove = async (item: JsonObject) => {
    const label = cell(item, def.columns[0]!) || String(item.id);
    if (!window.confirm(`Delete ${def.title.toLowerCase().replace(/s$/, '')} ${label}?`)) return;
    try {
      await api('DELETE', `${path}/${encodeURIComponent(String(item.id))}`);
      await load();
      if (def.id === 'tenants') onTenantsChanged();
    } catch (err) {
      setError(describe(err));
    }
  };

  return html`<section data-testid=${`page-${def.id}`}>
    <header class="page-head">
      <h2>${def.title}</h2>
      <input
        type="search"
        class="search"
        placeholder="Search"
        aria-label=${`Search ${def.title.toLowerCase()}`}
        value=${search}
        onInput=${(e: Event) => setSearch((e.currentTarget as HTMLInputElement).value)}
      />
      ${
        canChange &&
        html`<button class="primary" data-testid="create" onClick=${() => setEditing({ mode: 'create' })}>
          New ${def.title.toLowerCase().replace(/s$/, '')}
        </button>`
      }
    </header>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      editing &&
      html`<div class="panel" data-testid="editor">
        <h3>
          ${editing.mode === 'create' ? `New ${def.title.toLowerCase().replace(/s$/, '')}` : `Edit ${cell(editing.item, def.columns[0]!)}`}
        </h3>
        ${
          schema
            ? html`<${SchemaForm}
                key=${editing.mode === 'edit' ? String(editing.item.id) : 'new'}
                schema=${schema}
                initial=${editing.mode === 'edit' ? editing.item : undefined}
                submitLabel=${editing.mode === 'create' ? 'Create' : 'Save'}
                onSubmit=${save}
                onCancel=${() => setEditing(undefined)}
              />`
            : html`<p class="muted">Loading the form…</p>`
        }
      </div>`
    }
    ${
      items === undefined
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="list" data-testid="list">
              <thead>
                <tr>
                  ${def.columns.map((c) => html`<th>${c.label}</th>`)}
                  ${canChange && html`<th class="row-actions"></th>`}
                </tr>
              </thead>
              <tbody>
                ${shown.map(
                  (item) =>
                    html`<tr data-id=${String(item.id)}>
                      ${def.columns.map((c) => html`<td>${c.view ? c.view(item) : cell(item, c)}</td>`)}
                      ${
                        canChange &&
                        html`<td class="row-actions">
                          <button onClick=${() => setEditing({ mode: 'edit', item })}>Edit</button>
                          <button class="danger" onClick=${() => remove(item)}>Delete</button>
                        </td>`
                      }
                    </tr>`,
                )}
              </tbody>
            </table>
            <p class="muted">${shown.length} of ${items.length}</p>`
    }
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------
// Live views: registrations and calls, refreshed when the tenant's event stream says something changed

interface Registration {
  aor: string;
  contact: string;
  expiresInSeconds: number;
  source: string;
  transport: string;
  userAgent: string | null;
}

interface LiveCall {
  callId: string;
  from: string;
  to: string;
  state: string;
  startedAt: string;
  answeredAt: string | null;
  /** The media relay is recording the call. */
  recording?: boolean;
  /** off, always or on-demand: a call whose policy is off cannot be recorded. */
  recordingPolicy?: string;
}

/** Reloads `load` whenever the tenant's events stream delivers one of `types` (debounced). */
function useLive(tenant: Tenant | undefined, prefix: string, load: () => Promise<void>) {
  const [connected, setConnected] = useState(false);
  const [last, setLast] = useState<string>('');
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (!tenant) return undefined;
    void loadRef.current();
    let timer: number | undefined;
    const stop = followEvents(
      `/v1/tenants/${encodeURIComponent(tenant.id)}/events/stream`,
      (type, data) => {
        if (!type.startsWith(prefix)) return;
        const d = data.data;
        const about = d && typeof d === 'object' && !Array.isArray(d) ? String(d.aor ?? d.callId ?? '') : '';
        setLast(`${new Date().toLocaleTimeString()} ${type} ${about}`);
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void loadRef.current(), 150);
      },
      (up) => {
        setConnected(up);
        if (up) void loadRef.current();
      },
    );
    return () => {
      window.clearTimeout(timer);
      stop();
    };
  }, [tenant?.id, prefix]);
  return html`<p class="live-state" data-testid="live-state" data-connected=${String(connected)}>
    <span class=${connected ? 'dot on' : 'dot'}></span>
    ${connected ? 'live' : 'connecting…'}${last && html` · last event: ${last}`}
  </p>`;
}

function RegistrationsPage({ ctx }: { ctx: Ctx }) {
  const [items, setItems] = useState<Registration[]>([]);
  const [error, setError] = useState('');
  const base = ctx.tenant && `/v1/tenants/${encodeURIComponent(ctx.tenant.id)}`;
  const load = async () => {
    if (!base) return;
    try {
      setItems((await api<{ items: Registration[] }>('GET', `${base}/registrations`)).items);
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  };
  const live = useLive(ctx.tenant, 'registration.', load);
  if (!base) return html`<p class="muted">Choose a tenant first.</p>`;
  const canKick = RANK[ctx.me.role] >= RANK.operator;
  const kick = async (r: Registration) => {
    if (!window.confirm(`Remove the registration ${r.contact} of ${r.aor}?`)) return;
    try {
      await api(
        'DELETE',
        `${base}/registrations/${encodeURIComponent(r.aor)}?contact=${encodeURIComponent(r.contact)}`,
      );
      await load();
    } catch (err) {
      setError(describe(err));
    }
  };
  return html`<section data-testid="page-registrations">
    <header class="page-head"><h2>Registrations</h2></header>
    ${live} ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <table class="list" data-testid="list">
      <thead>
        <tr>
          <th>AOR</th>
          <th>Contact</th>
          <th>Transport</th>
          <th>Source</th>
          <th>User agent</th>
          <th>Expires in</th>
          ${canKick && html`<th></th>`}
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (r) =>
            html`<tr data-aor=${r.aor}>
              <td>${r.aor}</td>
              <td class="wrap">${r.contact}</td>
              <td>${r.transport}</td>
              <td>${r.source}</td>
              <td>${r.userAgent ?? ''}</td>
              <td>${r.expiresInSeconds} s</td>
              ${canKick && html`<td class="row-actions"><button class="danger" onClick=${() => kick(r)}>Kick</button></td>`}
            </tr>`,
        )}
      </tbody>
    </table>
    ${items.length === 0 && html`<p class="muted">No phone is registered.</p>`}
  </section>`;
}

function LiveCallsPage({ ctx }: { ctx: Ctx }) {
  const [items, setItems] = useState<LiveCall[]>([]);
  const [error, setError] = useState('');
  const [now, setNow] = useState(Date.now());
  const base = ctx.tenant && `/v1/tenants/${encodeURIComponent(ctx.tenant.id)}`;
  const load = async () => {
    if (!base) return;
    try {
      setItems((await api<{ items: LiveCall[] }>('GET', `${base}/calls/live`)).items);
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  };
  const live = useLive(ctx.tenant, 'call.', load);
  const [transferring, setTransferring] = useState<LiveCall | undefined>();
  const [transferSchema, setTransferSchema] = useState<BodySchema | undefined>();
  useEffect(() => {
    if (transferring && !transferSchema) {
      void bodySchema('POST', '/v1/tenants/{tenantId}/calls/live/{callId}/transfer').then(setTransferSchema);
    }
  }, [transferring, transferSchema]);
  // The durations tick locally; the list itself changes only on events.
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  if (!base) return html`<p class="muted">Choose a tenant first.</p>`;
  const canHangUp = RANK[ctx.me.role] >= RANK.operator;
  const hangUp = async (c: LiveCall) => {
    try {
      await api('DELETE', `${base}/calls/live/${encodeURIComponent(c.callId)}`);
    } catch (err) {
      setError(describe(err));
    }
  };
  const record = async (c: LiveCall, on: boolean) => {
    try {
      await api(on ? 'POST' : 'DELETE', `${base}/calls/live/${encodeURIComponent(c.callId)}/recording`);
      // The live call says recording once the gateway has asked its relay; its event reloads the list.
      window.setTimeout(() => void load(), 500);
    } catch (err) {
      setError(describe(err));
    }
  };
  const transfer = async (body: JsonObject) => {
    if (!transferring) return;
    await api('POST', `${base}/calls/live/${encodeURIComponent(transferring.callId)}/transfer`, body);
    setTransferring(undefined);
  };
  const since = (iso: string | null) => {
    if (!iso) return '';
    const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };
  return html`<section data-testid="page-calls">
    <header class="page-head"><h2>Live calls</h2></header>
    ${live} ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      transferring &&
      html`<div class="panel" data-testid="transfer">
        <h3>Transfer ${transferring.from} ↔ ${transferring.to}</h3>
        <p class="muted">
          The party chosen stays and is connected to the target; the other is released once the target
          answers.
        </p>
        ${
          transferSchema
            ? html`<${SchemaForm}
                key=${transferring.callId}
                schema=${transferSchema}
                submitLabel="Transfer"
                onSubmit=${transfer}
                onCancel=${() => setTransferring(undefined)}
              />`
            : html`<p class="muted">Loading the form…</p>`
        }
      </div>`
    }
    <table class="list" data-testid="list">
      <thead>
        <tr>
          <th>From</th>
          <th>To</th>
          <th>State</th>
          <th>Started</th>
          <th>Talking</th>
          <th>Call-ID</th>
          ${canHangUp && html`<th></th>`}
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (c) =>
            html`<tr data-call-id=${c.callId}>
              <td>${c.from}</td>
              <td>${c.to}</td>
              <td>${c.state}</td>
              <td>${new Date(c.startedAt).toLocaleTimeString()}</td>
              <td>
                ${since(c.answeredAt)}${c.recording ? html` <span class="rec" title="recording">● rec</span>` : ''}
              </td>
              <td class="wrap">${c.callId}</td>
              ${
                canHangUp &&
                html`<td class="row-actions">
                  ${c.state === 'answered' && html`<button onClick=${() => setTransferring(c)}>Transfer</button>`}
                  ${
                    c.recording
                      ? html`<button data-testid="stop-recording" onClick=${() => record(c, false)}>
                          Stop recording
                        </button>`
                      : c.recordingPolicy !== 'off' &&
                        html`<button data-testid="record" onClick=${() => record(c, true)}>Record</button>`
                  }
                  <button class="danger" onClick=${() => hangUp(c)}>Hang up</button>
                </td>`
              }
            </tr>`,
        )}
      </tbody>
    </table>
    ${items.length === 0 && html`<p class="muted">No call in progress.</p>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------
// CDRs, charts, audit

const DISPOSITIONS = ['answered', 'busy', 'no-answer', 'cancelled', 'rejected', 'failed', 'limited'];

function CdrsPage({ ctx }: { ctx: Ctx }) {
  const [filters, setFilters] = useState({ since: '', until: '', party: '', disposition: '' });
  const [items, setItems] = useState<Cdr[] | undefined>();
  const [error, setError] = useState('');
  const base = ctx.tenant && `/v1/tenants/${encodeURIComponent(ctx.tenant.id)}/calls`;
  const query = useMemo(() => {
    const q = new URLSearchParams();
    if (filters.since) q.set('since', new Date(filters.since).toISOString());
    if (filters.until) q.set('until', new Date(filters.until).toISOString());
    if (filters.party.trim()) q.set('party', filters.party.trim());
    if (filters.disposition) q.set('disposition', filters.disposition);
    return q.toString();
  }, [filters]);
  const load = useCallback(async () => {
    if (!base) return;
    setError('');
    try {
      setItems(await listAll<Cdr>(`${base}${query ? `?${query}` : ''}`, 5000));
    } catch (err) {
      setError(describe(err));
    }
  }, [base, query]);
  useEffect(() => void load(), [load]);
  const stats = useMemo(() => cdrStats(items ?? []), [items]);
  if (!base) return html`<p class="muted">Choose a tenant first.</p>`;

  const exportCsv = async () => {
    try {
      const response = await fetch(`${base}?format=csv&limit=500${query ? `&${query}` : ''}`, {
        headers: { authorization: `Bearer ${session.key() ?? ''}` },
      });
      if (!response.ok) throw new Error(`CSV export failed: ${response.status}`);
      const blob = await response.blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `calls-${ctx.tenant?.sipDomain ?? 'tenant'}.csv`;
      a.click();
      // Revoked once the browser has taken the file, not before.
      window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      setError(describe(err));
    }
  };
  const set = (name: keyof typeof filters) => (e: Event) =>
    setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value });

  return html`<section data-testid="page-cdrs">
    <header class="page-head"><h2>Call records</h2></header>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Since <input type="datetime-local" value=${filters.since} onChange=${set('since')} /></label>
      <label>Until <input type="datetime-local" value=${filters.until} onChange=${set('until')} /></label>
      <label
        >Party
        <input
          type="search"
          placeholder="sip:alice@… or +4930…"
          value=${filters.party}
          onChange=${set('party')}
      /></label>
      <label
        >Disposition
        <select value=${filters.disposition} onChange=${set('disposition')}>
          <option value="">all</option>
          ${DISPOSITIONS.map((d) => html`<option value=${d}>${d}</option>`)}
        </select></label
      >
      <button type="button" onClick=${() => void load()}>Refresh</button>
      <button type="button" data-testid="export-csv" onClick=${exportCsv}>Export CSV</button>
    </form>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <${CdrCharts} stats=${stats} />
    ${
      items === undefined
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="list" data-testid="list">
              <thead>
                <tr>
                  <th>Started</th>
                  <th>From</th>
                  <th>To</th>
                  <th>Direction</th>
                  <th>Disposition</th>
                  <th>SIP</th>
                  <th title="Post-dial delay: from the call's start to its first ringing">PDD</th>
                  <th>Duration</th>
                  <th>Hung up by</th>
                  <th>Reason</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${items.slice(0, 500).map(
                  (c) =>
                    html`<tr data-call-id=${c.callId}>
                      <td>${new Date(c.startedAt).toLocaleString()}</td>
                      <td>${c.from}</td>
                      <td>${c.to}</td>
                      <td>${c.direction}</td>
                      <td>${c.disposition}</td>
                      <td>${c.sipCode ?? ''}</td>
                      <td>
                        ${c.ringingAt ? seconds((Date.parse(c.ringingAt) - Date.parse(c.startedAt)) / 1000) : ''}
                      </td>
                      <td>${c.durationSeconds} s</td>
                      <td>${c.hangupBy ?? ''}</td>
                      <td>${c.reason ?? ''}</td>
                      <td>
                        ${
                          (c.recordingIds?.length ?? 0) > 0 &&
                          html`<a
                            data-testid="recordings-link"
                            href=${`#/recordings?callId=${encodeURIComponent(c.callId)}`}
                            >${c.recordingIds!.length === 1 ? 'recording' : `${c.recordingIds!.length} recordings`}</a
                          >`
                        }
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
            <p class="muted">
              ${items.length} calls${items.length > 500 ? ' (the first 500 shown; the charts count all)' : ''}
            </p>`
    }
  </section>`;
}

interface AuditEntry {
  id: string;
  at?: string;
  createdAt?: string;
  actorKeyId?: string | null;
  entity?: string;
  entityId?: string | null;
  action?: string;
  tenantId?: string | null;
  before?: Json;
  after?: Json;
}

function AuditPage({ ctx }: { ctx: Ctx }) {
  const [items, setItems] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [open, setOpen] = useState<string | undefined>();
  // A platform key may read every tenant's entries and the platform's own (keys, tenants); a tenant key its own.
  const [everything, setEverything] = useState(false);
  const tenantQuery =
    ctx.tenant && !(everything && ctx.me.tenantId === null)
      ? `&tenantId=${encodeURIComponent(ctx.tenant.id)}`
      : '';
  const load = async (after?: string) => {
    try {
      const page = await api<{ items: AuditEntry[]; nextCursor: string | null }>(
        'GET',
        `/v1/audit?limit=100${tenantQuery}${after ? `&after=${after}` : ''}`,
      );
      setItems(after ? [...items, ...page.items] : page.items);
      setNext(page.nextCursor);
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  };
  useEffect(() => void load(), [tenantQuery]);
  return html`<section data-testid="page-audit">
    <header class="page-head">
      <h2>Audit log</h2>
      ${
        ctx.me.tenantId === null &&
        html`<label
          ><input
            type="checkbox"
            checked=${everything}
            onChange=${(e: Event) => setEverything((e.currentTarget as HTMLInputElement).checked)}
          />
          every tenant and the platform</label
        >`
      }
    </header>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <table class="list" data-testid="list">
      <thead>
        <tr>
          <th>When</th>
          <th>Action</th>
          <th>Entity</th>
          <th>Id</th>
          <th>Key</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (e) =>
            html`<tr>
                <td>${new Date(e.at ?? e.createdAt ?? '').toLocaleString()}</td>
                <td>${e.action ?? ''}</td>
                <td>${e.entity ?? ''}</td>
                <td class="wrap">${e.entityId ?? ''}</td>
                <td>${e.actorKeyId ?? ''}</td>
                <td>
                  <button onClick=${() => setOpen(open === e.id ? undefined : e.id)}>
                    ${open === e.id ? 'Hide' : 'Details'}
                  </button>
                </td>
              </tr>
              ${
                open === e.id &&
                html`<tr class="details">
                  <td colspan="6">
                    <pre>${JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre>
                  </td>
                </tr>`
              }`,
        )}
      </tbody>
    </table>
    ${next && html`<button onClick=${() => void load(next)}>More</button>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------
// The shell: header, tenant choice, navigation

interface View {
  id: string;
  title: string;
  visible: (me: Whoami) => boolean;
}

const VIEWS: View[] = [
  ...RESOURCES.map((r) => ({ id: r.id, title: r.title, visible: () => true })),
  { id: 'registrations', title: 'Registrations', visible: () => true },
  { id: 'calls', title: 'Live calls', visible: () => true },
  { id: 'cdrs', title: 'Call records', visible: () => true },
  { id: 'recordings', title: 'Recordings', visible: () => true },
  { id: 'webhooks', title: 'Webhooks', visible: () => true },
  { id: 'api-keys', title: 'API keys', visible: (me) => me.role === 'admin' },
  { id: 'audit', title: 'Audit log', visible: (me) => me.role === 'admin' },
];

function useHash(): string {
  // `#/recordings?callId=…`: the view is what comes before the query.
  const read = () => window.location.hash.replace(/^#\/?/, '').split('?')[0] || 'users';
  const [hash, setHash] = useState(read);
  useEffect(() => {
    const on = () => setHash(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Shell({ me, onLogout }: { me: Whoami; onLogout: () => void }) {
  const view = useHash();
  const [tenants, setTenants] = useState<Tenant[]>([]);
  const [tenantId, setTenantId] = useState<string | null>(me.tenantId ?? sessionStorage.getItem(TENANT_ITEM));
  const [error, setError] = useState('');
  const loadTenants = useCallback(async () => {
    try {
      const list = await listAll<Tenant>('/v1/tenants');
      setTenants(list);
      setTenantId((current) =>
        current && list.some((t) => t.id === current) ? current : (list[0]?.id ?? null),
      );
    } catch (err) {
      setError(describe(err));
    }
  }, []);
  useEffect(() => void loadTenants(), [loadTenants]);
  const tenant = tenants.find((t) => t.id === tenantId);
  const ctx: Ctx = { me, tenant };
  const chooseTenant = (e: Event) => {
    const id = (e.currentTarget as HTMLSelectElement).value;
    sessionStorage.setItem(TENANT_ITEM, id);
    setTenantId(id);
  };

  const def = RESOURCES.find((r) => r.id === view);
  let page;
  if (def)
    page = html`<${ResourcePage} key=${def.id} def=${def} ctx=${ctx} onTenantsChanged=${loadTenants} />`;
  else if (view === 'registrations') page = html`<${RegistrationsPage} ctx=${ctx} />`;
  else if (view === 'calls') page = html`<${LiveCallsPage} ctx=${ctx} />`;
  else if (view === 'cdrs') page = html`<${CdrsPage} ctx=${ctx} />`;
  else if (view === 'recordings') page = html`<${RecordingsPage} me=${me} tenant=${tenant} />`;
  else if (view === 'webhooks') page = html`<${WebhooksPage} me=${me} tenant=${tenant} />`;
  else if (view === 'api-keys' && me.role === 'admin')
    page = html`<${ApiKeysPage} me=${me} tenant=${tenant} tenants=${tenants} />`;
  else if (view === 'audit' && me.role === 'admin') page = html`<${AuditPage} ctx=${ctx} />`;
  else page = html`<p>No such page.</p>`;

  return html`<div class="shell">
    <header class="top">
      <strong class="brand">voxgate</strong>
      ${
        me.tenantId === null
          ? html`<label class="tenant-pick"
              >Tenant
              <select data-testid="tenant-select" value=${tenantId ?? ''} onChange=${chooseTenant}>
                ${tenants.length === 0 && html`<option value="">(no tenant yet)</option>`}
                ${tenants.map((t) => html`<option value=${t.id}>${t.name} (${t.sipDomain})</option>`)}
              </select></label
            >`
          : html`<span class="tenant-fixed">${tenant ? `${tenant.name} (${tenant.sipDomain})` : ''}</span>`
      }
      <span class="who" data-testid="who"
        >${me.name} · ${me.role}${me.tenantId === null ? ' · platform' : ''}</span
      >
      <a href="/console/phone" target="_blank" rel="noopener">Phone</a>
      <button onClick=${onLogout}>Sign out</button>
    </header>
    <nav>
      ${VIEWS.filter((v) => v.visible(me)).map(
        (v) => html`<a href=${`#/${v.id}`} class=${v.id === view ? 'active' : ''}>${v.title}</a>`,
      )}
    </nav>
    <main>${error && html`<p class="form-error" role="alert">${error}</p>`} ${page}</main>
  </div>`;
}

function App() {
  const [me, setMe] = useState<Whoami | undefined>();
  const [checking, setChecking] = useState(session.key() !== null);
  useEffect(() => {
    if (!session.key()) return;
    api<Whoami>('GET', '/v1/whoami')
      .then(setMe)
      .catch(() => session.clear())
      .finally(() => setChecking(false));
  }, []);
  if (checking) return html`<p class="muted">Loading…</p>`;
  if (!me) return html`<${Login} onLogin=${setMe} />`;
  return html`<${Shell}
    me=${me}
    onLogout=${() => {
      session.clear();
      sessionStorage.removeItem(TENANT_ITEM);
      setMe(undefined);
    }}
  />`;
}

render(html`<${App} />`, document.getElementById('app')!);
