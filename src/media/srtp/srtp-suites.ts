/**
 * The SRTP crypto suites the relay speaks, by their SDES names (RFC 4568 §6.2): AES in counter mode with a
 * 128-bit key and HMAC-SHA1 authentication (RFC 3711 §4.1.1, §4.2.1). The suffix is the SRTP tag length in
 * bits; SRTCP always carries an 80-bit tag with these suites (RFC 4568 §6.2.2: "the SRTCP authentication tag
 * length is 80 bits" for AES_CM_128_HMAC_SHA1_32 too).
 */
export interface SrtpSuite {
  readonly name: SrtpSuiteName;
  /** Master key length in bytes (n_e = 128 bits). */
  readonly keyLength: number;
  /** Master salt length in bytes (n_s = 112 bits). */
  readonly saltLength: number;
  /** Authentication key length in bytes (n_a = 160 bits). */
  readonly authKeyLength: number;
  readonly srtpTagLength: number;
  readonly srtcpTagLength: number;
}

export type SrtpSuiteName = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

/** In the relay's order of preference: offered in this order, the first one a party knows is chosen. */
export const SRTP_SUITES: readonly SrtpSuite[] = [
  {
    name: 'AES_CM_128_HMAC_SHA1_80',
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    srtpTagLength: 10,
    srtcpTagLength: 10,
  },
  {
    name: 'AES_CM_128_HMAC_SHA1_32',
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    srtpTagLength: 4,
    srtcpTagLength: 10,
  },
];

export function suiteNamed(name: string): SrtpSuite | undefined {
  return SRTP_SUITES.find((s) => s.name === name);
}
