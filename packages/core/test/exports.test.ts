import * as core from '@ssekit/core';

describe('public API', () => {
  it('exports the names of the design contract', () => {
    for (const name of [
      'formatEvent',
      'formatComment',
      'SseFormatError',
      'SseClosedError',
      'SseWriter',
      'SseConnection',
      'createConnection',
      'DefaultProvider',
      'Hub',
      'MemoryReplayer',
      'withReplay',
      'isClientDisconnected',
      'createSseHandler',
      'heartbeatStats',
    ]) {
      expect(typeof (core as Record<string, unknown>)[name]).toBe('function');
    }
  });

  it('errors carry a code and structured fields', () => {
    const format = new core.SseFormatError('id', 'a\nb', 'must not contain CR, LF or NUL');
    expect(format).toBeInstanceOf(core.SseError);
    expect(format).toBeInstanceOf(Error);
    expect(format).toEqual(expect.objectContaining({ name: 'SseFormatError', code: 'format', field: 'id', value: 'a\nb' }));
    expect(new core.SseClosedError('slow')).toEqual(expect.objectContaining({ name: 'SseClosedError', code: 'closed', reason: 'slow' }));
    expect(new core.SseOptionsError('heartbeatMs', -1, 'x')).toEqual(expect.objectContaining({ code: 'options', option: 'heartbeatMs', value: -1 }));
    expect(new core.SseHttpError(429, 'busy', { 'Retry-After': '5' })).toEqual(
      expect.objectContaining({ code: 'rejected', status: 429, statusCode: 429, expose: true, headers: { 'Retry-After': '5' } }),
    );
  });
});
