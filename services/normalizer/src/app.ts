/**
 * Builds the normalizer stage: redacted envelopes in, canonical events out, exactly once through
 * Kafka transactions, each output partition hash-chained.
 */
import { TOPIC_SCHEMAS, type NormalizedEvent, type RedactedEnvelope } from '@aispm/contracts';
import { GENESIS_HASH } from '@aispm/integrity';
import { ControlPlane, controlPlaneSettings } from '@aispm/control';
import { TransformStage, type OutputChain, workerStageSettings } from '@aispm/kafka';
import type { WorkerContext } from '@aispm/service';
import {
  checkSemantics,
  normalize,
  sealEvent,
  unsealed,
  upcastNormalized,
  type SemanticPolicy,
} from '@aispm/normalization';
import type { NormalizerConfig } from './env';

/** The integrity chain of the normalized topic (DESIGN §8). */
export const normalizedChain: OutputChain<NormalizedEvent> = {
  genesis: GENESIS_HASH,
  seal: (event, prevHash) => {
    const value = sealEvent(unsealed(event), prevHash);
    return { value, hash: value.record_hash };
  },
  hashOf: (stored) => upcastNormalized(stored).record_hash,
};

/**
 * The normalizer stage and the control-plane view it takes tenant settings from. The stage
 * consumes a tenant's topic only once the view holds the tenant, so a new tenant's maximum age
 * applies from its first event.
 */
export async function buildNormalizer(
  config: NormalizerConfig,
  { kafka, codec, logger, metrics }: WorkerContext,
) {
  const control = new ControlPlane(kafka, codec, logger, controlPlaneSettings('normalizer', config));
  await control.start();
  const policy = (tenant: string): SemanticPolicy => ({
    collectorVersions: config.NORMALIZER_COLLECTOR_VERSIONS,
    maxEventAgeDays: control.state.tenant(tenant)?.max_event_age_days,
  });
  const stage = new TransformStage<RedactedEnvelope, NormalizedEvent>(
    kafka,
    {
      ...workerStageSettings('normalizer', 'redacted', control.tenantSource(), config),
      outputStage: 'normalized',
      outputSchema: TOPIC_SCHEMAS.normalized,
      // The chain fields are filled in by `chain`, which knows the partition's head.
      core: (input) => {
        const now = Date.now();
        checkSemantics(input.value, policy(input.tenant), now);
        return {
          ok: true,
          value: { ...normalize(input.value, input.tenant, now), prev_hash: '', record_hash: '' },
        };
      },
      keyOf: (output) => output.session_id,
      chain: normalizedChain,
      transactions: config.NORMALIZER_TRANSACTIONS === 'on',
    },
    codec,
    logger,
    metrics,
  );
  return { stage, close: () => control.stop() };
}
