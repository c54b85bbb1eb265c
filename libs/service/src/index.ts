/**
 * Owns process bootstrap: `runMain`, the start-up and shutdown order of a pipeline worker
 * (`runWorker`) and of an HTTP service (`runHttpService`), the ops server and the shutdown
 * signals. The ops server and the signals live here rather than in libs/observability because
 * they belong to a process's start and stop order (the signal runs it, and the ops server
 * closes last so its probes answer while the service stops). Observability keeps what is
 * observed: the logger, the metrics, and the probe routes the HTTP services also serve on their
 * public ports.
 */
export { runMain, type ServiceBasics } from './process';
export * from './worker';
export * from './http';
