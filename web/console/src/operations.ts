// Operations pages of the console: recordings (list, play, download, delete), webhooks (list, create, edit,
// delete, the secret once, the delivery log) and API keys (list, create showing the key once, revoke).
// Everything through /v1 with the signed-in key, drawn for what the key's role allows.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError, describe, listAll, session, type Role, type Whoami } from './api.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface OpsTenant {
  id: string;
  name: string;
  sipDomain: string;
}

export interface OpsProps {
  me: Whoami;
  tenant: OpsTenant | undefined;
  /** The tenants a platform key may scope a new key to. */
  tenants?: OpsTenant[];
}

const tenantBase = (tenant: OpsTenant) => `/v1/tenants/${encodeURIComponent(tenant.id)}`;

/** A file of the API fetched with the key (an <a href> or <audio src> cannot send Authorization). */
async function fetchBlob(path: string): Promise<Blob> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${session.key() ?? ''}` } });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = (await response.json()) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? detail;
    } catch {
      // Not JSON: the status says it.
    }
    throw new Error(detail);
  }
  return response.blob();
}

function saveBlob(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  // Revoked once the browser has taken the file, not before.
  window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The field problems of a validation problem, by the body member its pointer names; the rest as text. */
function fieldProblems(err: unknown, fields: string[]): { byField: Record<string, string>; general: string } {
  if (!(err instanceof ApiError) || !err.problem.errors?.length)
    return { byField: {}, general: describe(err) };
  const byField: Record<string, string> = {};
  const rest: string[] = [];
  for (const e of err.problem.errors) {
    const name = e.pointer.split('/')[1] ?? '';
    if (e.where === 'body' && fields.includes(name))
      byField[name] = byField[name] ? `${byField[name]}; ${e.detail}` : e.detail;
    else rest.push(`${e.where}${e.pointer}: ${e.detail}`);
  }
  return { byField, general: rest.join('; ') || (Object.keys(byField).length ? '' : describe(err)) };
}

const fieldError = (errors: Record<string, string>, name: string) =>
  errors[name] &&
  html`<span class="field-error" id=${`field-${name}-error`} role="alert">${errors[name]}</span>`;

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '');

// ---------------------------------------------------------------------------------------------------------
// Recordings

interface RecordingFile {
  name: string;
  type: string;
}

interface Recording {
  id: string;
  callId: string;
  startedAt: string;
  endedAt: string;
  files: RecordingFile[];
  createdAt: string;
}

/** The call a recording list is filtered to: `#/recordings?callId=…`. */
function callIdOfHash(): string {
  const q = window.location.hash.split('?')[1] ?? '';
  return new URLSearchParams(q).get('callId') ?? '';
}

export function RecordingsPage({ me, tenant }: OpsProps) {
  const [callId, setCallId] = useState(callIdOfHash);
  const [items, setItems] = useState<Recording[] | undefined>();
  const [error, setError] = useState('');
  const [playing, setPlaying] = useState<{ id: string; url: string } | undefined>();
  const base = tenant && `${tenantBase(tenant)}/recordings`;
  const canDelete = RANK[me.role] >= RANK.operator;

  const load = useCallback(async () => {
    if (!base) return;
    setError('');
    try {
      const filter = callId.trim() ? `?callId=${encodeURIComponent(callId.trim())}` : '';
      setItems(await listAll<Recording>(`${base}${filter}`, 2000));
    } catch (err) {
      setError(describe(err));
    }
  }, [base, callId]);
  useEffect(() => void load(), [load]);
  useEffect(() => {
    const on = () => setCallId(callIdOfHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  // The object URL of the audio playing is given back when another plays or the page goes.
  useEffect(() => () => playing && URL.revokeObjectURL(playing.url), [playing]);
  if (!base) return html`<p class="muted">Choose a tenant first.</p>`;

  const audioPath = (r: Recording, file?: string) =>
    `${base}/${encodeURIComponent(r.id)}/audio${file ? `?file=${encodeURIComponent(file)}` : ''}`;
  const play = async (r: Recording) => {
    setError('');
    try {
      const blob = await fetchBlob(audioPath(r));
      setPlaying({ id: r.id, url: URL.createObjectURL(blob) });
    } catch (err) {
      setError(describe(err));
    }
  };
  const download = async (r: Recording, file: string) => {
    setError('');
    try {
      saveBlob(await fetchBlob(audioPath(r, file)), `${r.id}-${file}`);
    } catch (err) {
      setError(describe(err));
    }
  };
  const remove = async (r: Recording) => {
    if (!window.confirm(`Delete the recording of ${r.callId} (${r.files.length} files)?`)) return;
    try {
      await api('DELETE', `${base}/${encodeURIComponent(r.id)}`);
      if (playing?.id === r.id) setPlaying(undefined);
      await load();
    } catch (err) {
      setError(describe(err));
    }
  };

  return html`<section data-testid="page-recordings">
    <header class="page-head">
      <h2>Recordings</h2>
      <form
        class="filters"
        onSubmit=${(e: Event) => {
          e.preventDefault();
          void load();
        }}
      >
        <label
          >Call-ID
          <input
            type="search"
            name="callId"
            placeholder="all calls"
            value=${callId}
            onChange=${(e: Event) => setCallId((e.currentTarget as HTMLInputElement).value)}
        /></label>
        <button type="button" onClick=${() => void load()}>Refresh</button>
      </form>
    </header>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      items === undefined
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="list" data-testid="list">
              <thead>
                <tr>
                  <th>Started</th>
                  <th>Ended</th>
                  <th>Call-ID</th>
                  <th>Files (download)</th>
                  <th class="row-actions"></th>
                </tr>
              </thead>
              <tbody>
                ${items.map(
                  (r) =>
                    html`<tr data-id=${r.id}>
                        <td>${when(r.startedAt)}</td>
                        <td>${when(r.endedAt)}</td>
                        <td class="wrap">${r.callId}</td>
                        <td>
                          ${r.files.map(
                            (f) =>
                              html`<button
                                  class="link"
                                  data-testid="download"
                                  data-file=${f.name}
                                  title=${`Download ${f.name}`}
                                  onClick=${() => download(r, f.name)}
                                >
                                  ${f.name}
                                </button>
                                ${' '}`,
                          )}
                        </td>
                        <td class="row-actions">
                          ${
                            r.files.some((f) => f.name.endsWith('.wav')) &&
                            html`<button data-testid="play" onClick=${() => play(r)}>Play</button>`
                          }
                          ${canDelete && html`<button class="danger" onClick=${() => remove(r)}>Delete</button>`}
                        </td>
                      </tr>
                      ${
                        playing?.id === r.id &&
                        html`<tr class="details">
                          <td colspan="5">
                            <audio data-testid="player" controls src=${playing.url}></audio>
                          </td>
                        </tr>`
                      }`,
                )}
              </tbody>
            </table>
            ${items.length === 0 && html`<p class="muted">No recording${callId ? ' of this call' : ''}.</p>`}`
    }
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------
// Webhooks

const WEBHOOK_EVENTS = [
  'call.started',
  'call.ringing',
  'call.answered',
  'call.ended',
  'registration.changed',
  'recording.ready',
] as const;

interface Webhook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

interface WebhookBody {
  url?: string;
  events?: string[];
  enabled?: boolean;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}

const inOrder = (events: readonly string[]) => WEBHOOK_EVENTS.filter((ev) => events.includes(ev));

function WebhookForm({
  initial,
  onSubmit,
  onCancel,
}: {
  initial: Webhook | undefined;
  onSubmit: (body: WebhookBody) => Promise<void>;
  onCancel: () => void;
}) {
  const [url, setUrl] = useState(initial?.url ?? '');
  const [events, setEvents] = useState<string[]>(initial?.events ?? ['call.ended']);
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    // An edit sends only what changed.
    const body: WebhookBody = {};
    if (!initial || url.trim() !== initial.url) body.url = url.trim();
    if (!initial || inOrder(events).join() !== inOrder(initial.events).join()) body.events = inOrder(events);
    if (!initial || enabled !== initial.enabled) body.enabled = enabled;
    setBusy(true);
    setErrors({});
    setGeneral('');
    try {
      await onSubmit(body);
    } catch (err) {
      const p = fieldProblems(err, ['url', 'events', 'enabled']);
      setErrors(p.byField);
      setGeneral(p.general);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="schema-form" onSubmit=${submit} novalidate>
    ${general && html`<p class="form-error" role="alert" data-testid="form-error">${general}</p>`}
    <div class=${`field${errors.url ? ' invalid' : ''}`} data-field="url">
      <label for="field-url">url${initial ? '' : ' *'}</label>
      <input
        id="field-url"
        name="url"
        type="text"
        autocomplete="off"
        placeholder="https://app.example/voxgate"
        value=${url}
        onInput=${(e: Event) => setUrl((e.currentTarget as HTMLInputElement).value)}
        aria-invalid=${errors.url ? 'true' : 'false'}
      />
      ${fieldError(errors, 'url')}
    </div>
    <fieldset class=${`field${errors.events ? ' invalid' : ''}`} data-field="events">
      <legend>events${initial ? '' : ' *'}</legend>
      ${WEBHOOK_EVENTS.map(
        (ev) =>
          html`<label class="check"
            ><input
              type="checkbox"
              name="events"
              value=${ev}
              checked=${events.includes(ev)}
              onChange=${(e: Event) =>
                setEvents(
                  (e.currentTarget as HTMLInputElement).checked
                    ? [...events, ev]
                    : events.filter((x) => x !== ev),
                )}
            />
            ${ev}</label
          >`,
      )}
      ${fieldError(errors, 'events')}
    </fieldset>
    <div class="field" data-field="enabled">
      <label class="check"
        ><input
          type="checkbox"
          name="enabled"
          checked=${enabled}
          onChange=${(e: Event) => setEnabled((e.currentTarget as HTMLInputElement).checked)}
        />
        enabled</label
      >
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${initial ? 'Save' : 'Create'}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function Deliveries({ base, hook, onClose }: { base: string; hook: Webhook; onClose: () => void }) {
  const [items, setItems] = useState<Delivery[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [state, setState] = useState('');
  const load = async (after?: string) => {
    try {
      const q = new URLSearchParams({ limit: '100' });
      if (state) q.set('state', state);
      if (after) q.set('after', after);
      const page = await api<{ items: Delivery[]; nextCursor: string | null }>(
        'GET',
        `${base}/${encodeURIComponent(hook.id)}/deliveries?${q.toString()}`,
      );
      setItems(after ? [...(items ?? []), ...page.items] : page.items);
      setNext(page.nextCursor);
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  };
  useEffect(() => void load(), [hook.id, state]);
  return html`<div class="panel" data-testid="deliveries">
    <h3>Deliveries to ${hook.url}</h3>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label
        >State
        <select
          value=${state}
          onChange=${(e: Event) => setState((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">all</option>
          <option value="pending">pending</option>
          <option value="delivered">delivered</option>
          <option value="failed">failed</option>
        </select></label
      >
      <button type="button" onClick=${() => void load()}>Refresh</button>
      <button type="button" onClick=${onClose}>Close</button>
    </form>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      items &&
      html`<table class="list">
        <thead>
          <tr>
            <th>Created</th>
            <th>Event</th>
            <th>State</th>
            <th>Attempts</th>
            <th>Last status</th>
            <th>Last error</th>
            <th>Last attempt</th>
            <th>Next attempt</th>
          </tr>
        </thead>
        <tbody>
          ${items.map(
            (d) =>
              html`<tr data-id=${d.id}>
                <td>${when(d.createdAt)}</td>
                <td>${d.eventType}</td>
                <td>${d.state}</td>
                <td>${d.attempts}</td>
                <td>${d.lastStatus ?? ''}</td>
                <td class="wrap">${d.lastError ?? ''}</td>
                <td>${when(d.lastAttemptAt)}</td>
                <td>${when(d.nextAttemptAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`
    }
    ${items?.length === 0 && html`<p class="muted">Nothing sent to this webhook yet.</p>`}
    ${next && html`<button onClick=${() => void load(next)}>More</button>`}
  </div>`;
}

export function WebhooksPage({ me, tenant }: OpsProps) {
  const [items, setItems] = useState<Webhook[] | undefined>();
  const [error, setError] = useState('');
  const [editing, setEditing] = useState<{ mode: 'create' } | { mode: 'edit'; hook: Webhook } | undefined>();
  const [created, setCreated] = useState<Webhook | undefined>();
  const [log, setLog] = useState<Webhook | undefined>();
  const base = tenant && `${tenantBase(tenant)}/webhooks`;
  // Webhooks send the tenant's calls out of the platform: admin keys change them (the API says so too).
  const canChange = me.role === 'admin';
  const load = useCallback(async () => {
    if (!base) return;
    try {
      setItems(await listAll<Webhook>(base));
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  }, [base]);
  useEffect(() => {
    setItems(undefined);
    setEditing(undefined);
    setLog(undefined);
    setCreated(undefined);
    void load();
  }, [load]);
  if (!base) return html`<p class="muted">Choose a tenant first.</p>`;

  const save = async (body: WebhookBody) => {
    if (editing?.mode === 'edit') {
      if (Object.keys(body).length > 0)
        await api('PATCH', `${base}/${encodeURIComponent(editing.hook.id)}`, body);
    } else setCreated(await api<Webhook>('POST', base, body));
    setEditing(undefined);
    await load();
  };
  const remove = async (hook: Webhook) => {
    if (!window.confirm(`Delete the webhook to ${hook.url} and its delivery log?`)) return;
    try {
      await api('DELETE', `${base}/${encodeURIComponent(hook.id)}`);
      if (log?.id === hook.id) setLog(undefined);
      await load();
    } catch (err) {
      setError(describe(err));
    }
  };

  return html`<section data-testid="page-webhooks">
    <header class="page-head">
      <h2>Webhooks</h2>
      ${
        canChange &&
        html`<button
          class="primary"
          data-testid="create"
          onClick=${() => {
            setCreated(undefined);
            setEditing({ mode: 'create' });
          }}
        >
          New webhook
        </button>`
      }
    </header>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      created?.secret &&
      html`<div class="panel once" data-testid="secret-once">
        <h3>Signing secret of ${created.url}</h3>
        <p>
          Shown this once: the API never gives it again. The receiver checks each POST's signature with it.
        </p>
        <pre data-testid="secret">${created.secret}</pre>
        <button onClick=${() => setCreated(undefined)}>I have saved it</button>
      </div>`
    }
    ${
      editing &&
      html`<div class="panel" data-testid="editor">
        <h3>${editing.mode === 'create' ? 'New webhook' : `Edit ${editing.hook.url}`}</h3>
        <${WebhookForm}
          key=${editing.mode === 'edit' ? editing.hook.id : 'new'}
          initial=${editing.mode === 'edit' ? editing.hook : undefined}
          onSubmit=${save}
          onCancel=${() => setEditing(undefined)}
        />
      </div>`
    }
    ${log && html`<${Deliveries} key=${log.id} base=${base} hook=${log} onClose=${() => setLog(undefined)} />`}
    ${
      items === undefined
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="list" data-testid="list">
              <thead>
                <tr>
                  <th>URL</th>
                  <th>Events</th>
                  <th>Enabled</th>
                  <th>Updated</th>
                  <th class="row-actions"></th>
                </tr>
              </thead>
              <tbody>
                ${items.map(
                  (w) =>
                    html`<tr data-id=${w.id}>
                      <td class="wrap">${w.url}</td>
                      <td>${w.events.join(', ')}</td>
                      <td>${w.enabled ? 'yes' : 'no'}</td>
                      <td>${when(w.updatedAt)}</td>
                      <td class="row-actions">
                        <button onClick=${() => setLog(w)}>Deliveries</button>
                        ${
                          canChange &&
                          html`<button onClick=${() => setEditing({ mode: 'edit', hook: w })}>Edit</button>
                            <button class="danger" onClick=${() => remove(w)}>Delete</button>`
                        }
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${items.length === 0 && html`<p class="muted">No webhook: the tenant's events go nowhere.</p>`}`
    }
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------
// API keys (admin keys)

interface ApiKey {
  id: string;
  tenantId: string | null;
  role: Role;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

interface ApiKeyBody {
  name: string;
  role: Role;
  tenantId?: string;
}

function ApiKeyForm({
  me,
  tenants,
  current,
  onSubmit,
  onCancel,
}: {
  me: Whoami;
  tenants: OpsTenant[];
  current: OpsTenant | undefined;
  onSubmit: (body: ApiKeyBody) => Promise<void>;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  // A platform key chooses the scope (the platform, or a tenant); a tenant key creates keys of its tenant.
  const [scope, setScope] = useState<string>(current?.id ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setGeneral('');
    try {
      await onSubmit({
        name: name.trim(),
        role,
        ...(me.tenantId === null && scope ? { tenantId: scope } : {}),
      });
    } catch (err) {
      const p = fieldProblems(err, ['name', 'role', 'tenantId']);
      setErrors(p.byField);
      setGeneral(p.general);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="schema-form" onSubmit=${submit} novalidate>
    ${general && html`<p class="form-error" role="alert" data-testid="form-error">${general}</p>`}
    <div class=${`field${errors.name ? ' invalid' : ''}`} data-field="name">
      <label for="field-name">name *</label>
      <input
        id="field-name"
        name="name"
        type="text"
        autocomplete="off"
        placeholder="billing export"
        value=${name}
        onInput=${(e: Event) => setName((e.currentTarget as HTMLInputElement).value)}
        aria-invalid=${errors.name ? 'true' : 'false'}
      />
      ${fieldError(errors, 'name')}
    </div>
    <div class=${`field${errors.role ? ' invalid' : ''}`} data-field="role">
      <label for="field-role">role *</label>
      <select
        id="field-role"
        name="role"
        value=${role}
        onChange=${(e: Event) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
      >
        <option value="viewer">viewer: reads</option>
        <option value="operator">operator: also provisions and acts on calls</option>
        <option value="admin">admin: also API keys, webhooks, audit log</option>
      </select>
      ${fieldError(errors, 'role')}
    </div>
    ${
      me.tenantId === null &&
      html`<div class=${`field${errors.tenantId ? ' invalid' : ''}`} data-field="tenantId">
        <label for="field-tenantId">scope</label>
        <select
          id="field-tenantId"
          name="tenantId"
          value=${scope}
          onChange=${(e: Event) => setScope((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">the platform (every tenant)</option>
          ${tenants.map((t) => html`<option value=${t.id}>${t.name} (${t.sipDomain})</option>`)}
        </select>
        ${fieldError(errors, 'tenantId')}
      </div>`
    }
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Create</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

export function ApiKeysPage({ me, tenant, tenants = [] }: OpsProps) {
  const [items, setItems] = useState<ApiKey[] | undefined>();
  const [error, setError] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKey | undefined>();
  const [showRevoked, setShowRevoked] = useState(false);
  const load = useCallback(async () => {
    try {
      setItems(await listAll<ApiKey>(`/v1/api-keys${showRevoked ? '' : '?active=true'}`));
      setError('');
    } catch (err) {
      setError(describe(err));
    }
  }, [showRevoked]);
  useEffect(() => void load(), [load]);
  if (me.role !== 'admin') return html`<p class="muted">API keys are managed with admin keys.</p>`;
  const scopeOf = (id: string | null) => {
    if (id === null) return 'platform';
    const t = tenants.find((x) => x.id === id) ?? (tenant?.id === id ? tenant : undefined);
    return t ? `${t.name} (${t.sipDomain})` : id;
  };
  const create = async (body: ApiKeyBody) => {
    setCreated(await api<ApiKey>('POST', '/v1/api-keys', body));
    setCreating(false);
    await load();
  };
  const revoke = async (k: ApiKey) => {
    const self = k.id === me.keyId ? ' It is the key you are signed in with: the console signs out.' : '';
    if (!window.confirm(`Revoke the key ${k.name} (${k.id})? It stops working at once.${self}`)) return;
    try {
      await api('DELETE', `/v1/api-keys/${encodeURIComponent(k.id)}`);
      await load();
    } catch (err) {
      setError(describe(err));
    }
  };
  return html`<section data-testid="page-api-keys">
    <header class="page-head">
      <h2>API keys</h2>
      <label
        ><input
          type="checkbox"
          name="showRevoked"
          checked=${showRevoked}
          onChange=${(e: Event) => setShowRevoked((e.currentTarget as HTMLInputElement).checked)}
        />
        revoked keys too</label
      >
      <button
        class="primary"
        data-testid="create"
        onClick=${() => {
          setCreated(undefined);
          setCreating(true);
        }}
      >
        New API key
      </button>
    </header>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    ${
      created?.key &&
      html`<div class="panel once" data-testid="key-once">
        <h3>Key ${created.name}</h3>
        <p>Shown this once: only a hash of it is stored. Send it as <code>Authorization: Bearer …</code>.</p>
        <pre data-testid="new-key">${created.key}</pre>
        <button onClick=${() => setCreated(undefined)}>I have saved it</button>
      </div>`
    }
    ${
      creating &&
      html`<div class="panel" data-testid="editor">
        <h3>New API key</h3>
        <${ApiKeyForm}
          me=${me}
          tenants=${tenants}
          current=${tenant}
          onSubmit=${create}
          onCancel=${() => setCreating(false)}
        />
      </div>`
    }
    ${
      items === undefined
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="list" data-testid="list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Scope</th>
                <th>Id</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Revoked</th>
                <th class="row-actions"></th>
              </tr>
            </thead>
            <tbody>
              ${items.map(
                (k) =>
                  html`<tr data-id=${k.id}>
                    <td>${k.name}${k.id === me.keyId ? ' (this key)' : ''}</td>
                    <td>${k.role}</td>
                    <td>${scopeOf(k.tenantId)}</td>
                    <td>${k.id}</td>
                    <td>${when(k.createdAt)}</td>
                    <td>${when(k.lastUsedAt)}</td>
                    <td>${when(k.revokedAt)}</td>
                    <td class="row-actions">
                      ${k.revokedAt === null && html`<button class="danger" onClick=${() => revoke(k)}>Revoke</button>`}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}
