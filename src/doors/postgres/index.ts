// The PostgreSQL door: see docs/doors/postgres.md.
export { startPostgresDoor, isLoopback, type PostgresDoor, type PostgresDoorOptions, type ScramCredentials } from './server.js';
export type { PostgresDoorTls } from './tls.js';
export { generateSelfSignedCertificate } from './certificate.js';
export { scramVerifier, type ScramVerifier } from './scram.js';
