import { describe, expect, it } from 'vitest';
import { parseEvents } from './eventStream';

describe('parseEvents', () => {
  it('splits complete events and keeps the partial one', () => {
    const { events, rest } = parseEvents('event: ready\ndata: {}\n\n: ping\n\nevent: store\ndata: {"id":1}\n\nevent: sto');
    expect(events).toEqual([
      { event: 'ready', data: '{}' },
      { event: 'store', data: '{"id":1}' },
    ]);
    expect(rest).toBe('event: sto');
  });

  it('joins multi-line data and accepts CRLF', () => {
    const { events } = parseEvents('event: store\r\ndata: a\r\ndata: b\r\n\r\n');
    expect(events).toEqual([{ event: 'store', data: 'a\nb' }]);
  });

  it('treats data without an event name as a message', () => {
    expect(parseEvents('data:x\n\n').events).toEqual([{ event: 'message', data: 'x' }]);
  });
});
