export type { Database, Queryable, QueryResult } from './database/database.js';
export { openDatabase } from './database/open-database.js';
export { migrate, pendingMigrations, readMigrations } from './migrations/migrate.js';
export {
  createApiKeyRepository,
  parseApiToken,
  type ApiKeyInfo,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type ApiKeyRole,
} from './repositories/api-key-repository.js';
export { StoreError } from './store-error.js';
export { isBackendUnavailable } from './backend-unavailable.js';
export {
  createTenantRepository,
  type RecordingPolicy,
  type SipDigestAlgorithm,
  type Tenant,
  type TenantRepository,
} from './repositories/tenant-repository.js';
export {
  createSipUserRepository,
  type MediaEncryption,
  type RealmDigestAlgorithms,
  type SipCredentials,
  type SipUser,
  type SipUserPatch,
  type SipUserRepository,
} from './repositories/sip-user-repository.js';
export {
  createAuditRepository,
  type AuditEntry,
  type AuditRepository,
} from './repositories/audit-repository.js';
export {
  PROVISIONING_CHANGES_STREAM,
  encodeProvisioningChange,
  type ProvisioningChange,
} from './provisioning-changes.js';
export {
  CALL_COMMANDS_STREAM,
  PLACED_CALLS_GROUP,
  decodeCallCommand,
  decodeOriginateCommand,
  encodeCallCommand,
  encodeOriginateCommand,
  type CallCommand,
  type OriginateCommand,
} from './call-commands.js';
export {
  CALL_EVENTS_STREAM,
  decodeCallEvent,
  encodeCallEvent,
  type CallDirection,
  type CallDisposition,
  type CallEvent,
  type CallEventType,
  type HangupParty,
  type MediaStreamStats,
} from './call-events.js';
export {
  createTrunkRepository,
  type Trunk,
  type TrunkInput,
  type TrunkPatch,
  type TrunkRepository,
  type TrunkWithSecret,
} from './repositories/trunk-repository.js';
export {
  createNumberRepository,
  type NumberOwner,
  type NumberRepository,
  type PhoneNumber,
} from './repositories/number-repository.js';
export {
  createRouteRepository,
  type Route,
  type RouteCursor,
  type RouteInput,
  type RoutePatch,
  type RouteRepository,
} from './repositories/route-repository.js';
export {
  createCdrRepository,
  type Cdr,
  type CdrFilter,
  type CdrRepository,
} from './repositories/cdr-repository.js';
export {
  storeQueryChannel,
  storeServerChannel,
  type StoreQueryEvent,
  type StoreServerEvent,
} from './database/store-diagnostics.js';
export { parsePostgresUrl, PostgresUrlError, toolConnection, withDatabase } from './database/postgres-url.js';
export {
  checkKey,
  createFolderStore,
  createS3Store,
  ObjectStoreError,
  parseS3Url,
  type ObjectStore,
  type S3StoreOptions,
  type StoredObject,
} from './objects/index.js';
export {
  createWebhookRepository,
  type AttemptOutcome,
  type ClaimedDelivery,
  type DeliveryState,
  type Webhook,
  type WebhookDelivery,
  type WebhookInput,
  type WebhookPatch,
  type WebhookRepository,
} from './repositories/webhook-repository.js';
export {
  addressAllowed,
  isPublicAddress,
  nameAllowed,
  NO_WEBHOOKS,
  parseWebhookAllow,
  urlHost,
  webhookUrlRefusal,
  type WebhookAllowList,
} from './webhooks/webhook-allow.js';
export {
  decodeRegistrationChange,
  encodeRegistrationChange,
  REGISTRATION_EVENTS_STREAM,
  WEBHOOK_EVENT_TYPES,
  webhookEventOfCall,
  webhookEventOfEntry,
  webhookEventOfRegistration,
  type RegistrationChange,
  type WebhookEvent,
  type WebhookEventType,
} from './webhooks/webhook-events.js';
export {
  createRecordingRepository,
  type Recording,
  type RecordingCursor,
  type RecordingFile,
  type RecordingInput,
  type RecordingRepository,
} from './recordings/recording-repository.js';
export {
  decodeRecordingReady,
  encodeRecordingReady,
  RECORDING_EVENTS_STREAM,
  storeRecording,
  type RecordingReady,
} from './recordings/recording-events.js';
