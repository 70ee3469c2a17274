import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressAllowed, nameAllowed, urlHost, type WebhookAllowList } from '../store/index.js';

/** One delivery attempt: where, signed with what, and the exact bytes. */
export interface WebhookRequest {
  url: string;
  secret: string;
  payload: string;
  eventId: string;
  eventType: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** The receiver's answer (any status), or why there was none. */
export type WebhookResponse = { status: number; location?: string } | { error: string };

export interface SenderOptions {
  allow: WebhookAllowList;
  /** The whole attempt: connecting, the request, the response headers and body. */
  timeoutMs: number;
  userAgent?: string;
  /** Resolves a host name (default: the system resolver), as `net.connect`'s `lookup` does. */
  lookup?: LookupFunction;
}

/** The most of a response body read (and thrown away); a receiver sending more is cut off. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * `Voxgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as Stripe signs: the
 * receiver recomputes it over the raw body and refuses a stale `t` (replays).
 */
export function signWebhook(secret: string, payload: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${payload}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

class AddressRefused extends Error {
  override readonly name = 'AddressRefused';
}

/**
 * A `lookup` for the connection that refuses addresses the allow list does not allow: the check is made on the
 * address actually connected to, so a name re-pointed between the API's check and the attempt (DNS rebinding)
 * does not reach an internal address.
 */
function guardedLookup(allow: WebhookAllowList, host: string, base: LookupFunction): LookupFunction {
  const byName = nameAllowed(allow, host);
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list: LookupAddress[] = Array.isArray(addresses) ? addresses : [];
      const usable = byName ? list : list.filter((a) => addressAllowed(allow, a.address));
      if (usable.length === 0) {
        const shown = list.map((a) => a.address).join(', ') || 'no address';
        return callback(
          new AddressRefused(`${hostname} resolves to ${shown}: not an allowed webhook destination`),
          '',
          0,
        );
      }
      if (options.all) return callback(null, usable);
      return callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

/**
 * POSTs one webhook delivery with node:http(s): never follows a redirect (a 3xx is an answer like any other,
 * its Location reported), connects only to addresses the allow list permits (checked after resolution), and
 * gives up after `timeoutMs` in all. Node's fetch is not used: without undici's Agent it offers no hook on the
 * address it connects to, which this check needs.
 */
export function sendWebhook(req: WebhookRequest, options: SenderOptions): Promise<WebhookResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.resolve({ error: 'the url is not valid' });
  }
  const host = urlHost(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.resolve({ error: 'the url is not http or https' });
  if (isIP(host) !== 0 && !addressAllowed(options.allow, host))
    return Promise.resolve({ error: `${host} is not an allowed webhook destination` });
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(req.payload);
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': options.userAgent ?? 'voxgate-webhooks',
      'voxgate-event-id': req.eventId,
      'voxgate-event-type': req.eventType,
      'voxgate-delivery-attempt': String(req.attempt),
      'voxgate-signature': signWebhook(req.secret, req.payload, now),
    },
    lookup: guardedLookup(options.allow, host, options.lookup ?? (dnsLookup as LookupFunction)),
    // A fresh connection per attempt: no pooled socket to an address checked earlier.
    agent: false,
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<WebhookResponse>((resolve) => {
    let settled = false;
    /** The status once the response headers are in: a body that never ends does not hide the answer. */
    let answer: WebhookResponse | undefined;
    const finish = (result: WebhookResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = send(url, requestOptions, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      answer = status >= 300 && status < 400 && location ? { status, location } : { status };
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      const answered = () => finish(answer ?? { status });
      res.on('end', answered);
      res.on('close', answered);
      res.on('error', answered);
    });
    const timer = setTimeout(() => {
      finish(answer ?? { error: `no answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    request.on('error', (err: Error) => finish({ error: err.message }));
    request.end(body);
  });
}
