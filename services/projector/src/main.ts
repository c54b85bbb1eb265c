import { runMain, runWorker } from '@aispm/kafka';
import { buildProjector } from './app';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  await runWorker('projector', config, (context) => buildProjector(config, context));
});
