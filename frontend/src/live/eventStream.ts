/**
 * Reads a Server-Sent Events stream with fetch (the session cookie goes
 * along, as with every same-origin request; no token is ever put in a URL,
 * where access logs and proxies would keep it).
 */
export type StreamEvent = { event: string; data: string };

export class StreamRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`event stream refused (HTTP ${status})`);
    this.status = status;
  }
}

/** Parses the complete events in `buffer`; returns them and the unparsed rest. */
export function parseEvents(buffer: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length || event !== 'message') events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

/** Streams events from `url` until the server ends it, `signal` aborts, or it fails. */
export async function readEventStream(url: string, onEvent: (event: StreamEvent) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, {
    headers: { Accept: 'text/event-stream' },
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (!response.ok || !response.body) throw new StreamRefused(response.status);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const { events, rest } = parseEvents(buffer);
    buffer = rest;
    for (const e of events) onEvent(e);
  }
}
