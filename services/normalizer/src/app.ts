/**
 * Builds the normalizer stage: redacted envelopes in, canonical events out, exactly once through
 * Kafka transactions, each output partition hash-chained.
 */
import { TOPIC_SCHEMAS, type NormalizedEvent, type RedactedEnvelope } from '@aispm/contracts';
import { GENESIS_HASH } from '@aispm/integrity';
import { TransformStage, type OutputChain, type WorkerConfig, type WorkerContext } from '@aispm/kafka';
import { normalize, sealEvent, unsealed, upcastNormalized } from '@aispm/normalization';

/** The integrity chain of the normalized topic (DESIGN §8). */
export const normalizedChain: OutputChain<NormalizedEvent> = {
  genesis: GENESIS_HASH,
  seal: (event, prevHash) => {
    const value = sealEvent(unsealed(event), prevHash);
    return { value, hash: value.record_hash };
  },
  hashOf: (stored) => upcastNormalized(stored).record_hash,
};

export function buildNormalizer(config: WorkerConfig, { kafka, codec, logger, metrics }: WorkerContext) {
  return new TransformStage<RedactedEnvelope, NormalizedEvent>(
    kafka,
    {
      service: 'normalizer',
      instanceId: config.AISPM_INSTANCE_ID,
      groupPrefix: config.AISPM_GROUP_PREFIX,
      inputStage: 'redacted',
      outputStage: 'normalized',
      outputSchema: TOPIC_SCHEMAS.normalized,
      topicRefreshMs: config.AISPM_TOPIC_REFRESH_MS,
      tenantPattern: config.AISPM_TENANT_PATTERN,
      // The chain fields are filled in by `chain`, which knows the partition's head.
      core: (input) => ({
        ok: true,
        value: { ...normalize(input.value, input.tenant, Date.now()), prev_hash: '', record_hash: '' },
      }),
      keyOf: (output) => output.session_id,
      chain: normalizedChain,
    },
    codec,
    logger,
    metrics,
  );
}
