/** KafkaJS's internal Cluster class, typed where it is used (deleted-topics.ts). */
declare module 'kafkajs/src/cluster' {
  const Cluster: { prototype: unknown };
  export default Cluster;
}
