import type { ModuleDefinition, ModuleName } from '../module.js';
import { adminBootstrapModule } from './admin-bootstrap.js';
import { apiModule } from './api.js';
import { httpServerModule } from './http-server.js';
import { mediaRelayModule } from './media-relay.js';
import { sharedStateModule } from './shared-state.js';
import { sipGatewayModule } from './sip-gateway.js';
import { storeModule } from './store.js';
import { tracingModule } from './tracing.js';
import { workerModule } from './worker.js';

/** Every module, by name: the deps map the targets are resolved against. */
export const moduleRegistry: ReadonlyMap<ModuleName, ModuleDefinition> = new Map(
  [
    httpServerModule,
    tracingModule,
    storeModule,
    sharedStateModule,
    adminBootstrapModule,
    apiModule,
    sipGatewayModule,
    mediaRelayModule,
    workerModule,
  ].map((m) => [m.name, m]),
);
