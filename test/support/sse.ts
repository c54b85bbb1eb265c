/**
 * A minimal Server-Sent Events client for tests: opens a stream with a bearer key (and
 * optionally Last-Event-ID), and records every event and comment as it arrives.
 */
import type { PostureDelta } from '@aispm/contracts';

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private readonly abort = new AbortController();
  private reading: Promise<void> = Promise.resolve();
  /** Whether the server ended the stream. */
  ended = false;

  private constructor(readonly status: number) {}

  /** Opens the stream; resolves once the response headers arrived. */
  static async open(url: string, key: string, lastEventId?: string): Promise<SseClient> {
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const client0 = new AbortController();
    const response = await fetch(url, { headers, signal: client0.signal });
    const client = new SseClient(response.status);
    client.abort.signal.addEventListener('abort', () => client0.abort());
    if (response.ok && response.body) client.reading = client.read(response.body);
    else await response.arrayBuffer();
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
      this.ended = true;
    } catch (error) {
      if (!this.abort.signal.aborted) throw error;
    }
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ id, event, data: data.join('\n') });
  }

  /** Posture deltas received so far (events that carry one). */
  deltas(): { id: string | undefined; delta: PostureDelta }[] {
    return this.events
      .filter((e) => e.event !== 'gap')
      .map((e) => ({ id: e.id, delta: JSON.parse(e.data) as PostureDelta }));
  }

  /** The id of the last event received. */
  lastId(): string | undefined {
    return this.events.filter((e) => e.id !== undefined).at(-1)?.id;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.reading.catch(() => undefined);
  }
}
