/** The call as a state machine with legs: what the B2BUA and the gateway's index import. */
export { B2buaCall } from './b2bua-call.js';
export { parseReplaces } from './refer-to.js';
export { callProgressChannel, type CallProgressEvent } from './call-record.js';
export { CallStateMachine, type CallState } from './call-state.js';
export type {
  CallHooks,
  CallIdentity,
  CallRecording,
  CallSettings,
  ForkMode,
  ForkTarget,
  Side,
} from './call-types.js';
export { bestFinal, dispositionOf, failsOver } from './final-responses.js';
export { MEDIA_RELAY_FAILED } from './media-leg.js';
