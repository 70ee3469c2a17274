export {
  createRequestRouter,
  gatewayPolicy,
  STATELESS_METHODS,
  CALL_METHODS,
  type RequestRouter,
} from './request-router.js';
export {
  addressOfRecord,
  createRegistrar,
  type Registrar,
  type RegistrarPolicy,
  type Reply,
  type RequestSource,
} from './registrar.js';
export {
  createSipAuthenticator,
  sipAuthChannel,
  type AuthPolicy,
  type SipAuthEvent,
  type SipAuthenticator,
} from './sip-authenticator.js';
export { createSipOutbound, type LegTarget, type SipOutbound } from './sip-outbound.js';
export {
  createMediaAnchor,
  statsFromReply,
  MediaAnchorError,
  type MediaAnchor,
  type MediaCallRef,
  type MediaSession,
  type MediaTotals,
} from './media-anchor.js';
// The call as the gateway exposes it: b2bua-call.ts is its one list.
export * from './b2bua-call.js';
export {
  createB2bua,
  callEventChannel,
  callRefusedChannel,
  type B2bua,
  type RecordingSink,
  type CallRefusedEvent,
} from './b2bua.js';
export { startGateway, defaultAdvertisedHost, type Gateway, type GatewayOptions } from './gateway.js';
export { createStoreRecordingSink } from './recording-sink.js';
export {
  asE164,
  normalizeNumber,
  selectRoute,
  type GatewayRoute,
  type GatewayTrunk,
  type NumberOwner,
  type RoutingDirectory,
} from './call-routing.js';
export { createStoreRoutingDirectory } from './store-routing.js';
export { createDirectoryCache, type DirectoryCache } from './directory-cache.js';
export { followProvisioningChanges } from './provisioning-follower.js';
export { followCallCommands, ENDED_THROUGH_API } from './call-commands.js';
export { followPlacedCalls } from './placed-calls.js';
export {
  createTrunkRegistrar,
  trunkRegistrationChannel,
  type RegisteringTrunk,
  type TrunkRegistrar,
  type TrunkRegistrationEvent,
  type TrunkRegistrationState,
} from './trunk-registration.js';
export { createTrunkMonitor, type MonitoredTrunk, type TrunkMonitor } from './trunk-monitor.js';
export { createBindingKeepalive, type BindingKeepalive } from './binding-keepalive.js';
export { ownCallIds, callIdOwnership, mintCallId, ownerOf, type CallIdOwnership } from './call-id-owner.js';
export { openWorkerDispatch, type WorkerDispatch, type DispatchCounts } from './worker-dispatch.js';
