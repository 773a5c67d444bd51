/**
 * The one place @peculiar/x509 is loaded: it needs the Reflect metadata API before it is
 * evaluated (hence the polyfill import first — ES modules evaluate their imports in order) and
 * node's WebCrypto as its provider. Keys themselves are generated and stored with node:crypto.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
