// POST /api/publish {"topic"?: string, "text": string}: broadcasts one event.
import { sse } from '../../../lib/sse';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function POST(request: Request): Promise<Response> {
  const { topic, text } = (await request.json()) as { topic?: string; text: string };
  const event = { event: 'note', data: { text } };
  const sent = topic ? sse.hub.broadcastTo(topic, event) : sse.hub.broadcast(event);
  return Response.json({ id: sent?.id ?? null });
}
