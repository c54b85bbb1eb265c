import { runMain, runWorker } from '@aispm/service';
import { buildNormalizer } from './app';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  await runWorker('normalizer', config, (context) => buildNormalizer(config, context));
});
