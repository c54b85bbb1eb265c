/**
 * Owns everything Kafka: the client factory, topic admin, the Confluent wire-format codec, the
 * stage runners the workers share, the followers of topics outside the stages, and the health
 * evidence every process publishes.
 */
export * from './client';
export * from './codec';
export * from './reader';
export type { StageInput, StageResult, StageSink, TransformCore } from './results';
export { readHeaders, type TopicMessage } from './messages';
export type { TenantSource } from './subscription';
export { STAGE_CONFIG_KEYS, stageGroupId, workerStageSettings, type StageSettings } from './loop';
export { produceChunks, sendChunked } from './offsets';
export { SharedProducer, type PartitionedMessage, type SharedProducerOptions } from './shared-producer';
export { TransformStage, type OutputChain, type TransformStageSettings } from './transform-stage';
export { SinkStage, type SinkStageSettings } from './sink-stage';
export * from './lag';
export * from './health';
export * from './range';
export * from './cursor';
export * from './follow';
export { BatchProgress } from './progress';
export { EMPTY_FETCHES_BEFORE_IDLE, IDLE_FETCH_WAIT_MS } from './idle-fetch';
export { tuneStageFetches } from './stage-fetch';
export { announceTopics } from './clusters';
export { isUnknownTopic } from './kafkajs-errors';
export * from './probe';
