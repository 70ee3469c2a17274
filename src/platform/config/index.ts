export { ConfigError } from './config-error.js';
export { readEnvFile, parseEnvText } from './env-file.js';
export { settingsHelp } from './help-text.js';
export { parseHostPort, type HostPort } from './host-port.js';
export { loadConfig, type LoadOptions } from './load-config.js';
export { formatEffectiveConfig, mask } from './print-config.js';
export { secretFileText } from './raw-value.js';
export { sections, variables, variableNames, deprecatedNames, type Config } from './schema.js';
export type { Setting } from './setting.js';
