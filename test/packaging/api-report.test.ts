/**
 * The committed API reports (`packages/<name>/api/*.api.md`) match the build: a change to the
 * public surface of any entry fails here, with a diff, until the reports are regenerated on
 * purpose with `npm run api:update` and committed. Runs on the output of `npm run setup`.
 */
const { buildReports, staleReports } = require('../../scripts/api-report.cjs') as {
  buildReports(): { file: string; text: string }[];
  staleReports(reports: { file: string; text: string }[]): { file: string; diff: string }[];
};

const reports = buildReports();

test('there is a report for every entry of every package', () => {
  const files = reports.map((r) => r.file.replace(/^.*\/packages\//, ''));
  expect(files).toEqual(expect.arrayContaining(['core/api/index.api.md', 'core/api/integration.api.md', 'express/api/index.api.md', 'fastify/api/index.api.md', 'koa/api/index.api.md', 'redis/api/index.api.md', 'fetch/api/index.api.md']));
});

test('the committed API reports match the build (run `npm run api:update` to accept a change)', () => {
  const stale = staleReports(reports);
  const message = stale.map(({ file, diff }) => `${file} differs from the build (- committed, + built):\n${diff}`).join('\n\n');
  expect(message).toBe('');
});
