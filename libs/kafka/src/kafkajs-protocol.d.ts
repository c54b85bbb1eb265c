/**
 * The parts of KafkaJS 2.2.4's protocol modules (src/protocol/) fetch-session.ts builds its Fetch
 * requests from; KafkaJS publishes no types for them.
 */
declare module 'kafkajs/src/protocol/requests' {
  /** A request's encoders and decoders per protocol version. */
  export interface RequestDefinitions {
    readonly versions: readonly string[];
  }
  export const requests: { readonly Fetch: RequestDefinitions };
}

declare module 'kafkajs/src/protocol/requests/apiKeys' {
  const apiKeys: { readonly Fetch: number };
  export = apiKeys;
}

declare module 'kafkajs/src/protocol/error' {
  export function createErrorFromCode(code: number): Error;
}
