import { integer } from './kinds.js';
import { section } from './setting.js';

/** Rotation of the secrets given as files (`<NAME>_FILE`): how often they are read, how long the old value lives. */
export const secretsSection = section({
  name: 'secrets',
  settings: {
    VOXGATE_SECRET_POLL_SECONDS: integer({
      min: 1,
      max: 3600,
      unit: 'seconds',
      description:
        'how often the files of VOXGATE_ADMIN_API_KEY_FILE, VOXGATE_SIP_NONCE_SECRET_FILE and ' +
        'VOXGATE_SIP_PEER_SECRET_FILE are read; a changed value is applied without a restart',
      default: 10,
    }),
    VOXGATE_SECRET_OVERLAP_SECONDS: integer({
      min: 1,
      max: 604_800,
      unit: 'seconds',
      description:
        'after a rotated secret changes, how long its previous value is still accepted: the previous admin ' +
        'API key is revoked then; SIP nonces and peer hops signed with the previous key verify until then',
      default: 3600,
    }),
    VOXGATE_SECRET_ACTIVATION_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      description:
        'a new SIP nonce or peer secret is accepted at once but signs only this long after it is read, so that ' +
        'replicas that read it later (a Kubernetes Secret reaches pods up to a kubelet sync apart) verify ' +
        'what the others sign',
      default: 120,
    }),
  },
  check(v) {
    if (v.VOXGATE_SECRET_ACTIVATION_SECONDS >= v.VOXGATE_SECRET_OVERLAP_SECONDS) {
      return `VOXGATE_SECRET_ACTIVATION_SECONDS=${v.VOXGATE_SECRET_ACTIVATION_SECONDS} is invalid: expected less than VOXGATE_SECRET_OVERLAP_SECONDS=${v.VOXGATE_SECRET_OVERLAP_SECONDS}`;
    }
    return undefined;
  },
  build: (v) => ({
    secrets: {
      pollMs: v.VOXGATE_SECRET_POLL_SECONDS * 1000,
      overlapMs: v.VOXGATE_SECRET_OVERLAP_SECONDS * 1000,
      activationMs: v.VOXGATE_SECRET_ACTIVATION_SECONDS * 1000,
    },
  }),
});
