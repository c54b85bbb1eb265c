/**
 * The collector SDK (DESIGN §16): contract envelopes with stable idempotency keys, signed batches
 * with retries and an on-disk spool, and the adapters that map each tool's own format to
 * envelopes, and the edit that plugs the collector into an agent's own hook configuration. Usable
 * on its own; the `aispm collect …` commands and the gateway's OTLP and webhook routes are thin
 * shells around it.
 */
export * from './envelope';
export * from './log';
export * from './spool';
export * from './client';
export * from './env';
export * from './adapters/hooks';
export * from './adapters/otlp';
export * from './adapters/mcp';
export * from './adapters/terraform';
export * from './adapters/github';
export * from './adapters/gitlab';
export * from './adapters/azure';
export * from './adapters/cursor';
export * from './adapters/copilot';
export * from './hook-config';
