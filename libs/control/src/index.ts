/**
 * Owns the control plane: the folded state of tenants, collectors, readers and legal holds, and
 * the process-wide follower and writer of the control topic.
 */
export * from './state';
export * from './plane';
export * from './audit';
export * from './deletion';
export * from './redaction';
export * from './tenants';
