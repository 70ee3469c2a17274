import { readFileSync } from 'node:fs';
import { findPackageRoot } from './package-root.js';

/** The package version, read once from package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(`${findPackageRoot()}/package.json`, 'utf8')) as { version: string }
).version;
