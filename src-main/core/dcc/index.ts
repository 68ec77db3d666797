export { createDccCheck, claimsHc1, type DccGateDeps } from './gate-check.js';
export { DccTrustHolder, DCC_TRUST_FORMAT, MAX_SIGNED_TRUST_BYTES, type DccTrustStorage, type DccTrustOffer } from './trust-holder.js';
export { SqliteDccTrustStorage } from './sqlite-trust-storage.js';
