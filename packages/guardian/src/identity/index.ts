export type { KeyStore } from './key-store.ts';
export { FileKeyStore, IDENTITY_KEY_FILE } from './file-key-store.ts';
export { buildCertificateRequest } from './certificate-request.ts';
export { IdentityError, type IdentityErrorCode } from './identity-error.ts';
