import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selfSigned } from '../../helpers/self-signed.js';

/** A self-signed certificate for 127.0.0.1 and the suite's domain, written as cert.pem and key.pem into `dir`. */
export function writeTlsFiles(dir: string, domain: string): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const { key, cert } = selfSigned(`IP:127.0.0.1,DNS:${domain}`, domain);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, cert);
  writeFileSync(keyFile, key, { mode: 0o600 });
  return { certFile, keyFile };
}
