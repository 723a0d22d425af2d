// The brief's whole example: a Mastra Agent with the tools of the brief's MCPClient config as written
// (`command: "extism-mcp-server", args: ["--registry=…"]`), asked "What's the weather in New York?".
// Its model is the AI SDK's scripted MockLanguageModelV3 (`ai/test`; no network): step 1 calls the
// weather tool, step 2 answers from the tool result it finds in its prompt. Then the discovery tools
// through the same client: search, describe, enable a plugin, list again.
// Reads {registry, weather_tool} on stdin; prints one JSON document.
import { MCPClient } from '@mastra/mcp';
import { Agent } from '@mastra/core/agent';
import { MockLanguageModelV3 } from 'ai/test';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 5, text: 5, reasoning: 0 },
};
const prompts = [];

// The tool result the model was given (the last tool message of its prompt), or null.
function toolResult(prompt) {
  for (const message of [...prompt].reverse()) {
    if (message.role !== 'tool') continue;
    for (const part of message.content) if (part.type === 'tool-result') return part.output;
  }
  return null;
}

function stream(parts) {
  return {
    stream: new ReadableStream({
      start(controller) {
        for (const p of [{ type: 'stream-start', warnings: [] }, ...parts]) controller.enqueue(p);
        controller.close();
      },
    }),
  };
}

function script(prompt) {
  prompts.push(JSON.parse(JSON.stringify(prompt)));
  const output = toolResult(prompt);
  if (output === null) {
    return {
      content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: cfg.weather_tool, input: JSON.stringify({ city: 'New York' }) }],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    };
  }
  const value = output.type === 'json' ? output.value : JSON.parse(output.value);
  const w = value.structuredContent ?? value;
  return {
    content: [{ type: 'text', text: `It is ${w.temp_c} °C and ${w.conditions} in ${w.city}.` }],
    finishReason: { unified: 'stop', raw: 'stop' },
  };
}

const model = new MockLanguageModelV3({
  doGenerate: async ({ prompt }) => ({ ...script(prompt), usage, warnings: [] }),
  doStream: async ({ prompt }) => {
    const { content, finishReason } = script(prompt);
    const parts = content.map((c) =>
      c.type === 'text' ? [{ type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: c.text }, { type: 'text-end', id: 't' }] : [c],
    ).flat();
    return stream([...parts, { type: 'finish', usage, finishReason }]);
  },
});

const out = {};
// The brief's MCPClient config, as written: the command and its one argument, nothing else.
const mcp = new MCPClient({
  id: 'brief',
  servers: { extism: { command: 'extism-mcp-server', args: [`--registry=${cfg.registry}`] } },
});
try {
  const tools = await mcp.listTools();
  out.tools = Object.keys(tools).sort();
  const agent = new Agent({
    id: 'weather-agent',
    name: 'weather-agent',
    instructions: 'You answer questions about the weather with the weather tool.',
    model,
    tools,
  });
  const result = await agent.generate("What's the weather in New York?", { maxSteps: 3 });
  out.text = result.text;
  out.tool_calls = (result.steps ?? []).flatMap((s) => (s.toolCalls ?? []).map((c) => c.payload?.toolName ?? c.toolName));
  out.tool_results = (result.steps ?? []).flatMap((s) => (s.toolResults ?? []).map((r) => r.payload?.result ?? r.result));
  out.prompts = prompts;

  const search = await tools['extism_extism_search'].execute({ query: 'probe' });
  out.search = search;
  out.describe = await tools['extism_extism_describe'].execute({ plugin: '@examples/probe' });
  out.enable = await tools['extism_extism_enable'].execute({ plugin: '@examples/probe' });
  out.tools_after_enable = Object.keys(await mcp.listTools()).sort();
  const again = await mcp.listTools();
  out.echo = await again['extism_examples_probe-echo'].execute({ text: 'enabled through Mastra' });
} catch (err) {
  out.error = String(err?.stack ?? err?.message ?? err);
} finally {
  await mcp.disconnect().catch(() => {});
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);
