export { ConfigError } from './config-error.js';
export { readEnvFile, parseEnvText } from './env-file.js';
export { loadConfig, type Config } from './load-config.js';
export { formatEffectiveConfig, mask } from './print-config.js';
export { variables, variableNames, type VariableName } from './variables.js';
