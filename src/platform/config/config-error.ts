/** A configuration problem, reported to the operator as one line; the process exits non-zero. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly code:
      'CONFIG_INVALID_VALUE' | 'CONFIG_UNKNOWN_VARIABLE' | 'CONFIG_ENV_FILE' | 'CONFIG_INVALID_TARGET',
    message: string,
  ) {
    super(message);
  }
}
