/** Secrets and their redaction: one module for kernel output, errors, logs and shown URLs. */
export { displayUrl, secretValuesFromEnv } from './patterns';
export { MIN_SECRET_LENGTH, SecretSet } from './SecretSet';
export { processSecrets, redactSecrets } from './redactSecrets';
