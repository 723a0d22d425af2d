// A real Mastra client (no LLM) against an MCP server: list the tools, call some, build an Agent.
// Reads one JSON document on stdin:
//   {id, servers: {name: {command, args, env} | {url}}, calls: [{tool, args}], agent: bool,
//    agent_calls: [{tool, args}], timeout_ms}
// and prints one JSON document: {tools, calls, agent_tools, agent_calls, timings_ms}.
import { MCPClient } from '@mastra/mcp';
import { Agent } from '@mastra/core/agent';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const servers = {};
for (const [name, s] of Object.entries(cfg.servers)) {
  servers[name] = s.url
    ? { url: new URL(s.url), requestInit: s.headers ? { headers: s.headers } : undefined, onToolError: s.onToolError }
    : { command: s.command, args: s.args ?? [], env: s.env ?? {}, onToolError: s.onToolError };
}

const summarize = (value) => {
  if (value === undefined) return null;
  try { return JSON.parse(JSON.stringify(value)); } catch { return String(value); }
};

async function execute(tools, call) {
  const tool = tools[call.tool];
  if (!tool) return { tool: call.tool, ok: false, error: `no such tool (have: ${Object.keys(tools).join(', ')})` };
  const t0 = performance.now();
  try {
    const result = await tool.execute(call.args ?? {});
    return { tool: call.tool, ok: true, result: summarize(result), ms: performance.now() - t0 };
  } catch (err) {
    return { tool: call.tool, ok: false, error: String(err?.message ?? err), ms: performance.now() - t0 };
  }
}

const t0 = performance.now();
const mcp = new MCPClient({ id: cfg.id ?? 'extism-verify', servers, timeout: cfg.timeout_ms ?? 60_000 });
const out = { timings_ms: {} };
try {
  const tools = await mcp.listTools();
  out.timings_ms.connect_and_list = performance.now() - t0;
  out.tools = Object.keys(tools).sort();
  out.descriptions = Object.fromEntries(Object.entries(tools).map(([k, t]) => [k, t.description ?? '']));
  out.calls = [];
  for (const call of cfg.calls ?? []) out.calls.push(await execute(tools, call));
  if (cfg.repeat) {
    const { tool, args, times } = cfg.repeat;
    const ms = [];
    for (let i = 0; i < times; i++) {
      const s = performance.now();
      await tools[tool].execute(args);
      ms.push(performance.now() - s);
    }
    ms.sort((a, b) => a - b);
    out.timings_ms.repeat_median = ms[Math.floor(ms.length / 2)];
    out.timings_ms.repeat_p95 = ms[Math.floor(ms.length * 0.95)];
  }
  if (cfg.agent) {
    const agent = new Agent({ id: 'extism-agent', name: 'extism-agent', instructions: 'Use the tools.',
                              model: 'openai/gpt-4o-mini', tools });
    const agentTools = await agent.listTools();
    out.agent_tools = Object.keys(agentTools).sort();
    out.agent_calls = [];
    for (const call of cfg.agent_calls ?? []) out.agent_calls.push(await execute(agentTools, call));
  }
} catch (err) {
  out.error = String(err?.message ?? err);
} finally {
  await mcp.disconnect().catch(() => {});
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);
