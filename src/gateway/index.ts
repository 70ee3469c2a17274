export { createRequestRouter, gatewayPolicy, STATELESS_METHODS } from './request-router.js';
export {
  addressOfRecord,
  createRegistrar,
  type Registrar,
  type RegistrarPolicy,
  type Reply,
  type RequestSource,
} from './registrar.js';
