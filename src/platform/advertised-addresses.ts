import { defaultAdvertisedHost } from '../gateway/index.js';
import type { Config } from './config/index.js';

/** The addresses phones are given for SIP (Via, Contact) and for media (SDP). */
export interface AdvertisedAddresses {
  readonly sip: string;
  readonly media: string;
}

/**
 * One rule for SIP and media: the address configured for it (its own setting, else VOXGATE_ADVERTISED_ADDRESS),
 * else the address it listens on, and for a wildcard listener (0.0.0.0, ::) the machine's first external
 * IPv4 — the same choice for both. With the defaults both listen on 127.0.0.1 and advertise it.
 */
export function advertisedAddresses(config: Pick<Config, 'sip' | 'media'>): AdvertisedAddresses {
  return {
    sip: config.sip.advertisedAddress ?? defaultAdvertisedHost(config.sip.host),
    media: config.media.advertisedAddress ?? defaultAdvertisedHost(config.media.ng.host),
  };
}
