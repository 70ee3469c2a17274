/**
 * The B2BUA's call, as the rest of the gateway imports it. The call itself lives in `./call/`: its state
 * machine, caller and callee legs, target set, provisional relay, media leg and in-dialog relay.
 */
export {
  B2buaCall,
  bestFinal,
  parseReplaces,
  callProgressChannel,
  dispositionOf,
  failsOver,
  type CallHooks,
  type CallIdentity,
  type CallProgressEvent,
  type CallRecording,
  type CallSettings,
  type CallState,
  type ForkMode,
  type ForkTarget,
} from './call/index.js';
