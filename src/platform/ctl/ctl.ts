import { parseArgs, type ParseArgsConfig } from 'node:util';
import { apiSettings, createApiClient, CtlError, DEFAULT_API_URL, EXIT_USAGE } from './api-client.js';
import {
  listCdrs,
  listLiveCalls,
  listRegistrations,
  listTenants,
  listTrunks,
  type CtlContext,
} from './listings.js';
import { hangupCall, kickRegistration } from './control.js';
import { printable } from './printable.js';
import { tailCalls } from './tail.js';

export interface CtlIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM: `tail` stops following and exits 0, another command stops with 130. */
  signal?: AbortSignal;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  usage: string;
  summary: string[];
  options: Options;
  /** The names of the positional arguments the command takes, each required (none by default). */
  args?: readonly string[];
  run: (ctx: CtlContext, values: Values, io: CtlIo, args: readonly string[]) => Promise<void>;
}

const tenantOption: Options = { tenant: { type: 'string' } };
const DEFAULT_CDR_LIMIT = 20;
const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

const COMMANDS: Record<string, Command> = {
  tenants: {
    usage: 'tenants',
    summary: ['tenants the key sees: id, name, SIP domain (a tenant key: its own)'],
    options: {},
    run: (ctx) => listTenants(ctx),
  },
  registrations: {
    usage: 'registrations [--tenant <id|sipDomain>]',
    summary: ['registered contacts now: AOR, contact, transport, source address, seconds until they expire'],
    options: tenantOption,
    run: (ctx, v) => listRegistrations(ctx, { tenant: str(v.tenant) }),
  },
  calls: {
    usage: 'calls [--tenant <id|sipDomain>]',
    summary: [
      'live calls: call id, from, to, state, started (ISO 8601), duration since the start',
      "(--json: elapsedSeconds; a CDR's durationSeconds counts from the answer)",
    ],
    options: tenantOption,
    run: (ctx, v) => listLiveCalls(ctx, { tenant: str(v.tenant) }),
  },
  cdrs: {
    usage: 'cdrs [--tenant …] [--limit N] [--since|--until <ISO>] [--disposition <d>] [--party <text>]',
    summary: [
      `ended calls, newest first (default ${DEFAULT_CDR_LIMIT}); --since/--until: started at or after/before;`,
      'disposition: answered busy no-answer cancelled rejected failed limited; --party: in from or to',
    ],
    options: {
      ...tenantOption,
      limit: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      disposition: { type: 'string' },
      party: { type: 'string' },
    },
    run: (ctx, v) =>
      listCdrs(ctx, {
        tenant: str(v.tenant),
        limit: cdrLimit(str(v.limit)),
        since: str(v.since),
        until: str(v.until),
        disposition: str(v.disposition),
        party: str(v.party),
      }),
  },
  trunks: {
    usage: 'trunks [--tenant <id|sipDomain>]',
    summary: ['carriers: name, transport:host:port, enabled, health (up/down/unknown), last OPTIONS check'],
    options: tenantOption,
    run: (ctx, v) => listTrunks(ctx, { tenant: str(v.tenant) }),
  },
  hangup: {
    usage: 'hangup <callId> [--tenant <id|sipDomain>]',
    summary: [
      'ends a live call (operator key): BYE to both phones once answered, while it rings CANCEL to the',
      'callee and 487 to the caller; its CDR says hangupBy api. The call id is the one `calls` shows',
    ],
    options: tenantOption,
    args: ['callId'],
    run: (ctx, v, _io, [callId = '']) => hangupCall(ctx, { tenant: str(v.tenant), callId }),
  },
  kick: {
    usage: 'kick <aor> [--contact <uri>] [--tenant <id|sipDomain>]',
    summary: [
      'removes the registrations of an AOR (operator key), or only --contact: calls no longer go to them',
      'until the phone registers again. AOR and contact as `registrations` shows them; the tenant is the',
      "AOR's SIP domain unless --tenant says otherwise",
    ],
    options: { ...tenantOption, contact: { type: 'string' } },
    args: ['aor'],
    run: (ctx, v, _io, [aor = '']) =>
      kickRegistration(ctx, { tenant: str(v.tenant), aor, contact: str(v.contact) }),
  },
  tail: {
    usage: 'tail [--tenant <id|sipDomain>] [--live]',
    summary: [
      'follows the calls: one line per call that ends from now on (--json: one JSON object per line,',
      '"event":"ended" with the CDR); --live: also the live calls and each state change ("event":"state").',
      "Reads the API's event stream (GET …/events/stream, SSE); calls that end while it is away are read",
      'from the CDRs when it is back. Ctrl-C stops',
    ],
    options: { ...tenantOption, live: { type: 'boolean' } },
    run: (ctx, v, io) =>
      tailCalls(
        ctx,
        { tenant: str(v.tenant), live: v.live === true },
        { signal: io.signal ?? new AbortController().signal, err: io.err },
      ),
  },
};

function cdrLimit(given: string | undefined): number {
  if (given === undefined) return DEFAULT_CDR_LIMIT;
  const n = Number(given);
  if (!/^\d+$/.test(given) || !Number.isSafeInteger(n) || n < 1) {
    throw new CtlError(`--limit ${given} is not a positive integer`, { exitCode: EXIT_USAGE });
  }
  return n;
}

export function ctlHelpText(): string {
  const width = 14;
  const lines = Object.values(COMMANDS).flatMap((c) => [
    `  voxgate ctl ${c.usage}`,
    ...c.summary.map((s) => `${' '.repeat(width)}${s}`),
  ]);
  return [
    'voxgate ctl — operate a running voxgate from a terminal, over its provisioning API',
    '',
    'Usage:',
    ...lines,
    '',
    'Every command takes --json: one JSON document on stdout for scripts (tail: one JSON object per line).',
    `Tenant commands work on --tenant (an id or SIP domain); without it on the key's own tenant (a tenant key),`,
    `or on the only tenant (a platform key; with several, --tenant is needed).`,
    '',
    'Environment:',
    `  VOXGATE_API_URL   the API's base URL (default ${DEFAULT_API_URL})`,
    '  VOXGATE_API_KEY   an API key (required): the platform admin key, or a tenant key',
    '',
    'Exit codes: 0 done, 1 the API refused or could not be reached (one line on stderr), 78 a usage error.',
  ].join('\n');
}

/**
 * `voxgate ctl <command> [options]`: tables for people, `--json` for scripts, over HTTP to the API named by
 * VOXGATE_API_URL with VOXGATE_API_KEY. Every failure is one line on `err` and a non-zero exit code.
 */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(ctlHelpText());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`voxgate ctl: unknown command '${name}'; run 'voxgate ctl --help'`);
    return EXIT_USAGE;
  }
  try {
    const wanted = command.args ?? [];
    const { values, positionals } = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: wanted.length > 0,
      options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.out(
        `Usage: voxgate ctl ${command.usage} [--json]\n${command.summary.map((s) => `  ${s}`).join('\n')}`,
      );
      return 0;
    }
    if (positionals.length !== wanted.length || positionals.some((p) => p === '')) {
      const names = wanted.map((a) => `<${a}>`).join(' ');
      throw new CtlError(
        positionals.length < wanted.length
          ? `${names} is missing; run 'voxgate ctl ${name} --help'`
          : `takes ${names} only, not ${positionals.slice(wanted.length).map(printable).join(' ')}`,
        { exitCode: EXIT_USAGE },
      );
    }
    const { baseUrl, key } = apiSettings(io.env);
    const api = createApiClient({ baseUrl, key, ...(io.signal ? { signal: io.signal } : {}) });
    await command.run(
      { api, out: io.out, json: values.json === true, now: Date.now },
      values,
      io,
      positionals,
    );
    return 0;
  } catch (err) {
    // Stopped by a signal: how tail ends (0); any other command was interrupted (130, as a shell says).
    if (io.signal?.aborted) return name === 'tail' ? 0 : 130;
    if (err instanceof CtlError) {
      io.err(`voxgate ctl: ${name}: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`voxgate ctl: ${name}: ${err.message}; run 'voxgate ctl ${name} --help'`);
      return EXIT_USAGE;
    }
    throw err;
  }
}
