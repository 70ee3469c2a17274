import { choice, integer, text } from './kinds.js';
import { section } from './setting.js';

/** What every process reads: environment label, logging, the data folder, the shutdown grace. */
export const generalSection = section({
  name: 'process',
  settings: {
    VOXGATE_ENV: choice(['dev', 'test', 'staging', 'production'], {
      description: 'deployment environment (labels logs and metrics)',
      default: 'dev',
    }),
    VOXGATE_LOG_LEVEL: choice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      description: 'log level of the JSON logs on stdout',
      default: 'info',
    }),
    VOXGATE_DATA_DIR: text({
      type: 'path',
      expects: 'a directory path',
      description: 'where embedded state lives (PGlite database, local recordings)',
      default: './data',
    }),
    VOXGATE_SHUTDOWN_GRACE_SECONDS: integer({
      min: 0,
      max: 86_400,
      unit: 'seconds',
      description: 'on SIGTERM, how long running work may finish before exit',
      default: 30,
    }),
  },
  build: (v) => ({
    env: v.VOXGATE_ENV,
    logLevel: v.VOXGATE_LOG_LEVEL,
    dataDir: v.VOXGATE_DATA_DIR,
    shutdownGraceMs: v.VOXGATE_SHUTDOWN_GRACE_SECONDS * 1000,
  }),
});
