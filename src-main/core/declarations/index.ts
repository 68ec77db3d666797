export { DeclareTokens, DECLARE_TOKENS_MAX, type HeldCredential } from './declare-tokens.js';
export { KioskDeclarationDesk, type DeclarationRecord, type KioskDeclarationDeskDeps } from './desk.js';
