export { createDccCheck, claimsHc1, type DccGateDeps } from './gate-check.js';
export { DccSigners } from './signers.js';
