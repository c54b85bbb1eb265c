/**
 * Crash and restart (DESIGN §15): a stream of events with known ids goes through the pipeline
 * while each service in turn (gateway, redactor, normalizer, projector) is SIGKILLed and started
 * again. Every acknowledged event must be projected exactly once, checked by count and by id set,
 * and nothing the gateway did not acknowledge may be reported as accepted. The servers are the
 * shared ones: only this suite's own service processes are killed.
 */
import { SERVICES, startPipeline, type Pipeline } from '../support/platform';
import { acknowledgements, EventStream, settle } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(900_000);

const EVENTS = Number(process.env.AISPM_FAULTS_CRASH_EVENTS ?? 600);
const proof = new Proof('crash-restart');
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  proof.write();
  await pipeline?.stop();
});

it('projects every acknowledged event exactly once while each service is SIGKILLed in turn', async () => {
  const stream = new EventStream(pipeline, { count: EVENTS, concurrency: 4 });
  const sending = stream.run();
  const faults = [];
  for (const [index, service] of SERVICES.entries()) {
    // Spread the kills over the stream: the k-th of n when about k/(n+1) of it was acknowledged.
    const mark = Math.floor((EVENTS * (index + 1)) / (SERVICES.length + 1));
    await acknowledgements(stream, sending, mark);
    faults.push(proof.injected(`SIGKILL ${service} mid-stream`));
    pipeline.processes.get(service)!.kill('SIGKILL');
    await pipeline.respawn(service);
  }
  await sending;
  const tally = await settle(pipeline, stream.events);
  proof.events(tally);

  const unacknowledged = stream.events.filter((e) => !e.acknowledged);
  expect(unacknowledged.map((e) => [e.id, e.refusals])).toEqual([]);
  expect(tally).toMatchObject({
    sent: EVENTS,
    acknowledged: EVENTS,
    projected: EVENTS,
    lost: 0,
    duplicated: 0,
    unknown: 0,
  });
  proof.survived(...faults);
});
