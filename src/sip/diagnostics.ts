import { channel } from 'node:diagnostics_channel';

/** Zero-cost tracing hooks (node:diagnostics_channel): published only when someone subscribes. */
export const sipChannels = {
  messageIn: channel('voxgate:sip:message-in'),
  messageOut: channel('voxgate:sip:message-out'),
  parseError: channel('voxgate:sip:parse-error'),
  handlerError: channel('voxgate:sip:handler-error'),
  /** `{ method, transport }` for every request that parsed. */
  requestIn: channel('voxgate:sip:request-in'),
  /** `{ method, status }` for every response sent to a request. */
  responseOut: channel('voxgate:sip:response-out'),
};
