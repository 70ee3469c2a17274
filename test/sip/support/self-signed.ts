// Moved to test/helpers/self-signed.ts; kept for scripts/fuzz, which imports it from here.
export * from '../../helpers/self-signed.js';
