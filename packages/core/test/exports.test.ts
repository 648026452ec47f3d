import * as core from '@ssekit/core';
import * as integration from '@ssekit/core/integration';

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
    ]) {
      expect(typeof (core as Record<string, unknown>)[name]).toBe('function');
    }
  });

  it('the integration entry holds what adapter, backend and transport authors need', () => {
    for (const name of ['nodeSink', 'streamHeaders', 'formatEventBody', 'withIdLine', 'assertTopic', 'topicProblem', 'nonNegativeInt', 'positiveInt', 'Registry', 'heartbeatStats', 'eventValidator']) {
      expect(typeof (integration as Record<string, unknown>)[name]).toBe('function');
      expect(name in core).toBe(false);
    }
    expect(integration.withIdLine('7', integration.formatEventBody({ id: 'ignored', event: 'e', data: 'x' })).toString()).toBe('id: 7\nevent: e\ndata: x\n\n');
  });

  it('errors carry a code and structured fields', () => {
    const format = new core.SseFormatError('id', 'a\nb', 'must not contain CR, LF or NUL');
    expect(format).toBeInstanceOf(core.SseError);
    expect(format).toBeInstanceOf(Error);
    expect(format).toEqual(expect.objectContaining({ name: 'SseFormatError', code: 'format', field: 'id', value: 'a\nb' }));
    expect(new core.SseClosedError('slow')).toEqual(expect.objectContaining({ name: 'SseClosedError', code: 'closed', reason: 'slow' }));
    expect(new core.SseOptionsError('heartbeatMs', -1, 'x')).toEqual(expect.objectContaining({ code: 'options', option: 'heartbeatMs', value: -1 }));
    expect(new core.SseHttpError(429, 'busy', { 'Retry-After': '5' })).toEqual(
      expect.objectContaining({ code: 'http', status: 429, statusCode: 429, expose: true, headers: { 'Retry-After': '5' } }),
    );
  });
});
