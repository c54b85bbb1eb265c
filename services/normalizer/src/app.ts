/**
 * Builds the normalizer stage: redacted envelopes in, canonical events out, exactly once through
 * Kafka transactions.
 */
import { TOPIC_SCHEMAS, type NormalizedEvent, type RedactedEnvelope } from '@aispm/contracts';
import { TransformStage, type WorkerConfig, type WorkerContext } from '@aispm/kafka';
import { normalize } from '@aispm/normalization';

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
      core: (input) => ({ ok: true, value: normalize(input.value, input.tenant, Date.now()) }),
      keyOf: (output) => output.session_id,
    },
    codec,
    logger,
    metrics,
  );
}
