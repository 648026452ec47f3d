// GET /api/events: an event stream with Last-Event-ID replay.
import { sse } from '../../../lib/sse';

// A stream is never static: render on every request, on the Node.js runtime (the hub lives in
// this process's memory; on the Edge runtime every isolate would have its own).
export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export function GET(request: Request): Promise<Response> {
  const topics = new URL(request.url).searchParams.getAll('topic');
  return sse.response(request, { topics }, (conn) => conn.send({ event: 'welcome', data: { gap: conn.replayGap } }));
}
