// outputSchema and structuredContent of upstream tools, re-exported and masked: the schema is
// widened so that masked values still validate in clients that check (the official SDK client
// does, formats included), and a masked result that still does not match is withheld. Against
// the real server-everything (get-structured-content) and a raw protocol server whose schema
// has a format, a minimum and an enum.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { checkStructured, widenOutputSchema, type OutputSchema } from '../../../src/doors/mcp/output-schema.js';
import { tempDir } from '../../helpers.js';
import { connectClient, EVERYTHING_ENTRY, nodeStdioConnection, RAW_UPSTREAM_ENTRY, startMcpSluice, TEST_CONFIG_HEAD, textOf, upstreamsReady, type McpTestSluice } from './helpers.js';


describe('MCP door: upstream output schemas and structured content', () => {
  let t: McpTestSluice;
  let client: Client;
  let logDir: { path: string; remove(): void };

  before(async () => {
    logDir = tempDir('sluice-raw-output-');
    t = await startMcpSluice(`
${TEST_CONFIG_HEAD}
connections:
${nodeStdioConnection('every', EVERYTHING_ENTRY, ['stdio'], ['mask: weather'])}
${nodeStdioConnection('raw', RAW_UPSTREAM_ENTRY, [], [`env: { set: { RAW_UPSTREAM_LOG: ${JSON.stringify(join(logDir.path, 'log'))} } }`, 'mask: people'])}
policy:
  rules:
    - { name: reads, when: 'intent.class == "read"', effect: allow }
masking:
  profiles:
    weather: { columns: ["*/humidity"] }
    people: { detectors: [email], columns: ["*/age"] }
`);
    await upstreamsReady(t, ['every', 'raw']);
    ({ client } = await connectClient(t.url, await t.key('claude-bot')));
  });

  after(async () => {
    await client?.close();
    await t?.stop();
    logDir?.remove();
  });

  it("re-exports the upstream's outputSchema with room for masked values", async () => {
    const { tools } = await client.listTools();
    const weather = tools.find((tool) => tool.name === 'every__get-structured-content');
    assert.ok(weather?.outputSchema, 'outputSchema is re-exported');
    const props = weather.outputSchema.properties as Record<string, { anyOf?: unknown[]; type?: string }>;
    assert.deepEqual(props.temperature!.anyOf![0], { type: 'number', description: 'Temperature in celsius' });
    assert.deepEqual(props.temperature!.anyOf![1], { type: 'string', description: 'a value masked by Sluice' });
    assert.equal(props.conditions!.type, 'string', 'a plain string needs no room');
    assert.deepEqual(weather.outputSchema.required, ['temperature', 'conditions', 'humidity']);
  });

  it('returns masked structured content that the SDK client accepts against the schema', async () => {
    const result = await client.callTool({ name: 'every__get-structured-content', arguments: { location: 'Chicago' } });
    assert.notEqual(result.isError, true, textOf(result));
    const data = result.structuredContent as Record<string, unknown>;
    assert.equal(data.temperature, 36);
    assert.equal(data.conditions, 'Light rain / drizzle');
    assert.equal(typeof data.humidity, 'string', 'the masked number is placeholder text');
    assert.notEqual(data.humidity, 82);
  });

  it('keeps formats, minimums and enums satisfiable after masking', async () => {
    const result = await client.callTool({ name: 'raw__whois', arguments: {} });
    assert.notEqual(result.isError, true, textOf(result));
    const data = result.structuredContent as Record<string, unknown>;
    assert.notEqual(data.email, 'ada@example.com');
    assert.equal(typeof data.age, 'string');
    assert.deepEqual(data.tags, ['admin']);
    assert.ok(!textOf(result).includes('ada@example.com'), 'the text copy is masked too');
  });

  it('widens leaves only, and withholds what still does not match', () => {
    const schema: OutputSchema = {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        kind: { oneOf: [{ const: 'a' }, { const: 'b' }] },
        nested: { type: 'object', properties: { when: { type: 'string', format: 'date-time' } }, required: ['when'] },
        list: { type: 'array', items: { type: 'number' } },
      },
      required: ['id', 'nested'],
      additionalProperties: false,
    };
    const widened = widenOutputSchema(schema)!;
    assert.ok(widened);
    assert.equal(widened.type, 'object');
    assert.equal(checkStructured(widened, { id: '[masked]', kind: 'placeholder', nested: { when: '<DATE_1>' }, list: [1, 'x'] }).ok, true);
    assert.equal(checkStructured(widened, { id: 1, nested: {} }).ok, false, 'masking never removes keys: still required');
    assert.equal(checkStructured(widened, { id: 1, nested: { when: 'x' }, extra: true }).ok, false, 'no new keys');
    assert.equal(checkStructured(widened, { id: 1, nested: 'text' }).ok, false, 'objects stay objects');
    assert.equal(widenOutputSchema({ type: 'object', properties: { x: { type: 'nonsense-type' } } } as OutputSchema), undefined, 'an unusable schema is not re-exported');
  });
});
