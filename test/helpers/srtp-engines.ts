// The SRTP engines (src/media/srtp/srtp-key.ts) the tests run on: JavaScript everywhere, and the native addon
// wherever it is built. In CI it must be (the build is part of `npm test`): a missing addon fails there instead
// of leaving the engine the relay runs on untested.
import { srtpEngine, type SrtpEngine } from '../../src/media/srtp/srtp-key.js';

const found = srtpEngine();
if (found.engine !== 'native' && process.env.CI)
  throw new Error(`CI without the SRTP addon: ${found.reason}`);

export const SRTP_ENGINES: readonly SrtpEngine[] =
  found.engine === 'native' ? ['javascript', 'native'] : ['javascript'];
