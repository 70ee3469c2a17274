// The part of the npm package `sip` (0.0.6, no types of its own) the parse benchmark uses.
declare module 'sip' {
  interface SipJsMessage {
    method?: string;
    uri?: string;
    status?: number;
    reason?: string;
    headers: Record<string, unknown> & {
      via?: Record<string, unknown>[];
      'call-id'?: string;
      cseq?: { seq: number; method: string };
    };
    content?: string;
  }
  export function parse(data: Buffer | string): SipJsMessage | undefined;
  export function stringify(message: SipJsMessage): string;
}
