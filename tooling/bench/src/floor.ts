import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";

/**
 * The pass-through floor: the least a gateway on node:http can do for one request. It reads
 * and parses the client's JSON, forwards it to the upstream with the client's key, reads the
 * usage from the answer (from every SSE event when streaming) and relays the answer. No
 * authentication, policy, budget or persistence: whatever osm costs beyond this is its own.
 */
const upstream = process.env.FLOOR_UPSTREAM;
if (!upstream) throw new Error("FLOOR_UPSTREAM is required");
const origin = new URL(upstream).origin;
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
let usageSeen = 0;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
}

function countUsage(json: { usage?: { completion_tokens?: number } | null }) {
  if (json.usage) usageSeen += json.usage.completion_tokens ?? 0;
}

const server = createServer(async (req, res) => {
  try {
    const body = await readJson(req);
    const stream = body.stream === true;
    const answer = await agent.request({
      origin,
      path: "/v1/chat/completions",
      method: "POST",
      headers: {
        authorization: req.headers.authorization ?? "",
        "content-type": "application/json",
      },
      body: JSON.stringify(stream ? { ...body, stream_options: { include_usage: true } } : body),
    });
    if (!stream) {
      const text = await answer.body.text();
      countUsage(JSON.parse(text));
      res.writeHead(answer.statusCode, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    res.writeHead(answer.statusCode, { "content-type": "text/event-stream" });
    let pending = "";
    for await (const chunk of answer.body) {
      pending += (chunk as Buffer).toString("utf8");
      let end = pending.indexOf("\n\n");
      while (end >= 0) {
        const event = pending.slice(0, end + 2);
        pending = pending.slice(end + 2);
        const data = event.startsWith("data: ") ? event.slice(6, -2) : "";
        if (data && data !== "[DONE]") countUsage(JSON.parse(data));
        res.write(event);
        end = pending.indexOf("\n\n");
      }
    }
    res.end(pending);
  } catch (err) {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: String(err) } }));
  }
});

server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.FLOOR_PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`floor listening on http://127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => {
  process.stderr.write(`floor: ${usageSeen} output tokens relayed\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
