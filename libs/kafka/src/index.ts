/**
 * Owns everything Kafka: the client factory, topic admin, the Confluent wire-format codec and
 * the stage runners the workers share.
 */
export * from './client';
export * from './codec';
export * from './reader';
export * from './stage';
export * from './worker';
export * from './lag';
export * from './health';
export * from './range';
export * from './cursor';
export * from './follow';
export * from './progress';
export * from './dead-letters';
export { isUnknownTopic } from './kafkajs-errors';
