/**
 * The integration and fault suites' jest environment: Node's, plus one duty. When a suite file
 * is done, after every hook of its own (the suite's `afterAll` may still need its services, to
 * delete its tenants), it stops whatever the suite left running: the registry of
 * `test/support/reaper.ts`, which lives on the suite's global object.
 */
'use strict';
const { TestEnvironment } = require('jest-environment-node');

const REGISTRY = Symbol.for('aispm.test.reaper');

class ReapingEnvironment extends TestEnvironment {
  async teardown() {
    await this.global[REGISTRY]?.reapAll();
    await super.teardown();
  }
}

module.exports = ReapingEnvironment;
