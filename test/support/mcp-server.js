// A real stdio MCP server on the official SDK, for the MCP proxy's end-to-end test. It records
// every byte it reads and writes under MCP_TEE_DIR, so the test can compare them with what the
// client saw through the proxy.
const { appendFileSync } = require('node:fs');
const path = require('node:path');
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { z } = require('zod');

const tee = process.env.MCP_TEE_DIR;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  appendFileSync(path.join(tee, 'sent'), chunk);
  return write(chunk, ...rest);
};
process.stdin.on('data', (chunk) => appendFileSync(path.join(tee, 'received'), chunk));

const server = new McpServer({ name: 'test-files', version: '1.2.3' });
server.registerTool(
  'echo',
  { description: 'Echoes its text', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text} ✓` }] }),
);
server.registerTool(
  'fail',
  { description: 'Always fails', inputSchema: { reason: z.string() } },
  async ({ reason }) => ({ content: [{ type: 'text', text: `failed: ${reason}` }], isError: true }),
);
void server.connect(new StdioServerTransport());
