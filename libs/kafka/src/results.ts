/**
 * Owns what a stage's core hands back and how a failure becomes a dead letter's code: the one
 * mapping from a thrown error to an error code, used wherever a message is dead-lettered.
 */
import { AppError } from '@aispm/errors';

/** A decoded input message with where it came from. */
export interface StageInput<T> {
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: T;
}

/** A core's dead letter, or any failure on its way to one: an error code and why. */
export interface Failure {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
}

/** What a core made of one input: output for the next stage, or a dead letter with a code. */
export type StageResult<O> = { readonly ok: true; readonly value: O } | Failure;

/**
 * A transform core: pure, per message. It may be async only to look up what it needs (the
 * redactor's tenant profile and key); the transformation itself stays pure.
 */
export type TransformCore<I, O> = (input: StageInput<I>) => StageResult<O> | Promise<StageResult<O>>;

/** Writes inputs durably (e.g. a ClickHouse insert); must be idempotent. Inputs span tenants. */
export type StageSink<I> = (inputs: readonly StageInput<I>[]) => Promise<void>;

/**
 * The failure an error stands for: an AppError keeps its code; anything else (a core's bug, a
 * library's error) takes `fallback`, the code of the step it failed in.
 */
export function failureOf(error: unknown, fallback: string): Failure {
  return {
    ok: false,
    code: error instanceof AppError ? error.code : fallback,
    message: String((error as Error).message),
  };
}
