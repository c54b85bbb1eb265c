import { runMain, runWorker } from '@aispm/kafka';
import { buildNormalizer } from './app';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  await runWorker('normalizer', config, (context) => buildNormalizer(config, context));
});
