import { runMain, runWorker } from '@aispm/service';
import { buildProjector } from './app';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  await runWorker('projector', config, (context) => buildProjector(config, context));
});
